-- title: Return rates
-- question: Which categories, brands, price bands and product rating bands are returned or
--   refunded most often, and how much revenue do those returns take away?
-- grain: one row per (dimension, dimension_value), dimension one of category, brand,
--   price_band, rating; all four dimensions unless `by` picks one.
-- param: start_date date = end_date - 29 days | first date of the range (inclusive)
-- param: end_date date = latest(fact_sales) | last date of the range (inclusive); default: newest sales partition
-- param: by choice(all, category, brand, price_band, rating) = all | one dimension, or all four
-- notes: a return is a transaction with status returned or refunded. return_rate = returns /
--   orders; revenue_lost = total_amount of the returns; gross_revenue = total_amount of all
--   orders. price_band is the band of the unit price paid. rating is the floor of the
--   product's average review rating ('1'..'5'), 'unrated' without reviews. Missing
--   catalog attributes show as 'unknown'. Within a dimension rows are ordered by
--   revenue_lost, largest first.

with

sales as (

    select
        coalesce(fs.category, 'unknown') as category,
        coalesce(fs.brand, 'unknown') as brand,
        fs.price_band,
        coalesce(cast(cast(floor(dp.avg_rating) as integer) as varchar), 'unrated') as rating,
        fs.quantity,
        fs.total_amount,
        fs.is_return
    from fact_sales as fs
    left join dim_products as dp on dp.product_id = fs.product_id
    where fs."date" between :start_date and :end_date

),

grouped as (

    select
        case
            when grouping(s.category) = 0 then 'category'
            when grouping(s.brand) = 0 then 'brand'
            when grouping(s.price_band) = 0 then 'price_band'
            else 'rating'
        end as dimension,
        case
            when grouping(s.category) = 0 then 1
            when grouping(s.brand) = 0 then 2
            when grouping(s.price_band) = 0 then 3
            else 4
        end as dimension_order,
        coalesce(s.category, s.brand, s.price_band, s.rating) as dimension_value,
        count(*) as orders,
        cast(sum(case when s.is_return then 1 else 0 end) as bigint) as returns,
        cast(sum(case when s.is_return then s.quantity else 0 end) as bigint) as returned_units,
        cast(sum(s.total_amount) as decimal(18, 2)) as gross_revenue,
        cast(sum(case when s.is_return then s.total_amount else 0 end) as decimal(18, 2)) as revenue_lost
    from sales as s
    group by grouping sets ((s.category), (s.brand), (s.price_band), (s.rating))

)

select
    g.dimension,
    g.dimension_value,
    g.orders,
    g.returns,
    round(cast(g.returns as double) / g.orders, 4) as return_rate,
    g.returned_units,
    g.gross_revenue,
    g.revenue_lost,
    round(cast(g.revenue_lost as double) / nullif(cast(g.gross_revenue as double), 0), 4) as revenue_lost_share
from grouped as g
where :by = 'all' or g.dimension = :by
order by g.dimension_order, g.revenue_lost desc, g.dimension_value
