-- title: Revenue by category over time
-- question: How does completed revenue split across product categories per day, week or
--   month, and how does each category's share of the period move?
-- grain: one row per (period, category) with sales in the range: periods oldest first,
--   categories by name within a period.
-- param: start_date date = end_date - 89 days | first date of the range (inclusive)
-- param: end_date date = latest(fact_sales) | last date of the range (inclusive); default: newest sales partition
-- param: grain choice(day, week, month) = week | length of a period (ISO weeks start on Monday)
-- param: category string(fact_sales.category) = null | one category only; null means every category
-- notes: revenue is completed revenue (net_amount: returned and refunded sales count 0);
--   orders counts every transaction of the category, units the completed units.
--   revenue_share is the category's share of the period's revenue over every category (also
--   when one category is selected). Sales of a product missing from the catalog are grouped
--   under category 'unknown'. Periods cut by the range edges are partial: days_with_sales
--   says how many dates of the period had sales of the category.

with

sales as (

    select
        cast(date_trunc(:grain, fs."date") as date) as period_start,
        fs."date" as sales_date,
        coalesce(fs.category, 'unknown') as category,
        fs.status,
        fs.quantity,
        fs.net_amount
    from fact_sales as fs
    where fs."date" between :start_date and :end_date

),

by_category as (

    select
        s.period_start,
        s.category,
        count(distinct s.sales_date) as days_with_sales,
        count(*) as orders,
        cast(sum(case when s.status = 'completed' then s.quantity else 0 end) as bigint) as units,
        cast(sum(s.net_amount) as decimal(18, 2)) as revenue
    from sales as s
    group by s.period_start, s.category

),

shared as (

    select
        b.period_start,
        b.category,
        b.days_with_sales,
        b.orders,
        b.units,
        b.revenue,
        sum(b.revenue) over (partition by b.period_start) as period_revenue
    from by_category as b

)

select
    sh.period_start,
    sh.category,
    sh.days_with_sales,
    sh.orders,
    sh.units,
    sh.revenue,
    round(cast(sh.revenue as double) / nullif(cast(sh.period_revenue as double), 0), 4) as revenue_share
from shared as sh
where :category is null or sh.category = :category
order by sh.period_start, sh.category
