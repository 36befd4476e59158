-- title: Top products by category
-- question: Which products bring in the most completed revenue in each category, how often
--   are they ordered, and how often do they come back?
-- grain: one row per (category, product_id): the top_n products of each category by revenue
--   over the date range, ranked 1..top_n within the category.
-- param: start_date date = end_date - 29 days | first date of the range (inclusive)
-- param: end_date date = latest(fact_sales) | last date of the range (inclusive); default: newest sales partition
-- param: top_n int(1..1000) = 10 | products per category
-- param: category string(fact_sales.category) = null | one category only; null means every category
-- notes: revenue is completed revenue (net_amount: returned and refunded sales count 0);
--   orders counts every transaction, returns the returned or refunded ones. Sales of a
--   product missing from the catalog are grouped under category 'unknown'. Ties in revenue
--   are broken by product_id, so the ranking is deterministic.

with

sales as (

    select
        coalesce(fs.category, 'unknown') as category,
        fs.product_id,
        fs.product_name,
        fs.brand,
        fs.quantity,
        fs.net_amount,
        fs.status,
        fs.is_return
    from fact_sales as fs
    where fs."date" between :start_date and :end_date
        and (:category is null or fs.category = :category)

),

product_totals as (

    select
        category,
        product_id,
        max(product_name) as product_name,
        max(brand) as brand,
        count(*) as orders,
        cast(sum(case when status = 'completed' then quantity else 0 end) as bigint) as units_sold,
        cast(sum(net_amount) as decimal(18, 2)) as revenue,
        cast(sum(case when is_return then 1 else 0 end) as bigint) as returns
    from sales
    group by category, product_id

),

ranked as (

    select
        category,
        row_number() over (
            partition by category order by revenue desc, product_id
        ) as category_rank,
        product_id,
        product_name,
        brand,
        orders,
        units_sold,
        revenue,
        returns,
        round(cast(returns as double) / orders, 4) as return_rate,
        round(
            cast(revenue as double)
            / nullif(cast(sum(revenue) over (partition by category) as double), 0),
            4
        ) as category_revenue_share
    from product_totals

)

select
    category,
    category_rank,
    product_id,
    product_name,
    brand,
    orders,
    units_sold,
    revenue,
    returns,
    return_rate,
    category_revenue_share
from ranked
where category_rank <= :top_n
order by category, category_rank
