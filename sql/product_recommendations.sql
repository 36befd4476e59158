-- title: Product recommendations
-- question: Which products are bought together by the same customer (support, confidence,
--   lift), and which products are viewed often but seldom bought?
-- grain: one row per recommendation, ranked 1..top_n within its kind:
--   kind 'bought_together': one row per ordered pair (product_id -> related_product_id),
--   read as "customers who bought product_id also bought related_product_id";
--   kind 'viewed_not_bought': one row per product that converts views into purchases
--   worse than the average viewed product.
-- param: start_date date = end_date - 29 days | first date of the range (inclusive)
-- param: end_date date = latest(fact_sales) | last date of the range (inclusive); default: newest sales partition
-- param: kind choice(all, bought_together, viewed_not_bought) = all | which result set; all returns both
-- param: top_n int(1..1000) = 20 | rows per kind
-- param: min_support double(0..1) = 0 | bought_together: least share of baskets holding the pair
-- notes: transactions are single-product rows, so a basket is one customer on one
--   transaction_date among the transactions landed on one date (every status counts: the
--   purchase happened). The baskets are counted per date by the merge (basket_pairs: per
--   pair, per product, in all) and summed here over the range. support = baskets with
--   both / all baskets; confidence = baskets with both / baskets with product_id; lift =
--   confidence / share of baskets with related_product_id, computed as
--   both * all / (with product_id * with related_product_id) so it is the same number
--   for A -> B and B -> A. Pairs rank by baskets with both,
--   then lift. For viewed_not_bought, views are product_view events naming the product
--   (processed clickstream) and purchases are purchase events whose order is a sale of
--   the product; products rank by views, then the lower view_to_purchase_rate.
--   Both kinds share one row shape; columns that do not apply to a kind are null.

with

counts as (

    select
        bp.product_id,
        bp.related_product_id,
        sum(bp.baskets) as baskets
    from basket_pairs as bp
    where bp."date" between :start_date and :end_date
    group by bp.product_id, bp.related_product_id

),

basket_totals as (

    select coalesce(sum(d.day_baskets), 0) as baskets
    from (
        select
            bp."date",
            max(bp.day_baskets) as day_baskets
        from basket_pairs as bp
        where bp."date" between :start_date and :end_date
        group by bp."date"
    ) as d

),

product_baskets as (

    select
        bc.product_id,
        bc.baskets
    from counts as bc
    where bc.product_id = bc.related_product_id

),

pairs as (

    -- Each pair is stored once (product_id < related_product_id): both directions here.
    select
        bc.product_id,
        bc.related_product_id,
        bc.baskets as pair_baskets
    from counts as bc
    where bc.product_id < bc.related_product_id
    union all
    select
        bc.related_product_id as product_id,
        bc.product_id as related_product_id,
        bc.baskets as pair_baskets
    from counts as bc
    where bc.product_id < bc.related_product_id

),

rules as (

    select
        pr.product_id,
        pr.related_product_id,
        pr.pair_baskets,
        cast(pr.pair_baskets as double) / t.baskets as support,
        cast(pr.pair_baskets as double) / pa.baskets as confidence,
        cast(pr.pair_baskets as double) * t.baskets
        / (cast(pa.baskets as double) * pb.baskets) as lift
    from pairs as pr
    cross join basket_totals as t
    inner join product_baskets as pa on pa.product_id = pr.product_id
    inner join product_baskets as pb on pb.product_id = pr.related_product_id

),

bought_together as (

    select
        'bought_together' as kind,
        row_number() over (
            order by r.pair_baskets desc, r.lift desc, r.product_id, r.related_product_id
        ) as kind_rank,
        r.product_id,
        r.related_product_id,
        r.pair_baskets,
        r.support,
        r.confidence,
        r.lift,
        cast(null as bigint) as views,
        cast(null as bigint) as purchases,
        cast(null as double) as view_to_purchase_rate
    from (
        -- The first top_n pairs only: ranking every pair would sort them all.
        select *
        from rules as ru
        where ru.support >= :min_support
        order by ru.pair_baskets desc, ru.lift desc, ru.product_id, ru.related_product_id
        limit :top_n
    ) as r

),

product_views as (

    select
        c.product_id,
        count(*) as views
    from clickstream as c
    where c."date" between :start_date and :end_date
        and c.event_type = 'product_view'
        and c.product_id is not null
    group by c.product_id

),

ordered as (

    select
        fs.product_id,
        count(distinct c.order_id) as purchases
    from clickstream as c
    inner join fact_sales as fs on fs.transaction_id = c.order_id
    where c."date" between :start_date and :end_date
        and fs."date" between :start_date and :end_date
        and c.event_type = 'purchase'
    group by fs.product_id

),

view_conversion as (

    select
        v.product_id,
        v.views,
        coalesce(o.purchases, 0) as purchases,
        cast(coalesce(o.purchases, 0) as double) / v.views as view_to_purchase_rate
    from product_views as v
    left join ordered as o on o.product_id = v.product_id

),

overall as (

    select cast(sum(vc.purchases) as double) / nullif(sum(vc.views), 0) as view_to_purchase_rate
    from view_conversion as vc

),

viewed_not_bought as (

    select
        'viewed_not_bought' as kind,
        row_number() over (
            order by vc.views desc, vc.view_to_purchase_rate, vc.product_id
        ) as kind_rank,
        vc.product_id,
        cast(null as varchar) as related_product_id,
        cast(null as bigint) as pair_baskets,
        cast(null as double) as support,
        cast(null as double) as confidence,
        cast(null as double) as lift,
        vc.views,
        vc.purchases,
        vc.view_to_purchase_rate
    from view_conversion as vc
    cross join overall as o
    where vc.view_to_purchase_rate < o.view_to_purchase_rate

),

recommendations as (

    select * from bought_together
    union all
    select * from viewed_not_bought

)

select
    r.kind,
    r.kind_rank,
    r.product_id,
    dp.name as product_name,
    r.related_product_id,
    rp.name as related_product_name,
    r.pair_baskets,
    round(r.support, 6) as support,
    round(r.confidence, 4) as confidence,
    round(r.lift, 4) as lift,
    r.views,
    r.purchases,
    round(r.view_to_purchase_rate, 4) as view_to_purchase_rate
from recommendations as r
left join dim_products as dp on dp.product_id = r.product_id
left join dim_products as rp on rp.product_id = r.related_product_id
where (:kind = 'all' or r.kind = :kind)
    and r.kind_rank <= :top_n
order by r.kind, r.kind_rank
