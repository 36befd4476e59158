-- title: Revenue trends
-- question: How do revenue, orders and average order value move per day, week or month,
--   what is the moving average, and how does each period compare with the one before?
-- grain: one row per period (day, ISO week starting Monday, or calendar month) with sales
--   in the range, oldest first.
-- param: start_date date = end_date - 89 days | first date of the range (inclusive)
-- param: end_date date = latest(fact_sales) | last date of the range (inclusive); default: newest sales partition
-- param: grain choice(day, week, month) = day | length of a period
-- notes: revenue is completed revenue (net_amount); orders counts every transaction and
--   completed_orders the completed ones; avg_order_value = revenue / completed_orders.
--   revenue_moving_avg is the mean revenue of this period and the six before it within the
--   range (fewer at the start). revenue_change and revenue_growth compare with the
--   previous period in the range (null for the first). Periods cut by the range edges are
--   partial: days_with_sales says how many dates each one holds.

with

sales as (

    select
        cast(date_trunc(:grain, fs."date") as date) as period_start,
        fs."date" as sales_date,
        fs.customer_id,
        fs.status,
        fs.quantity,
        fs.net_amount
    from fact_sales as fs
    where fs."date" between :start_date and :end_date

),

periods as (

    select
        s.period_start,
        count(distinct s.sales_date) as days_with_sales,
        count(*) as orders,
        cast(sum(case when s.status = 'completed' then 1 else 0 end) as bigint) as completed_orders,
        cast(sum(case when s.status = 'completed' then s.quantity else 0 end) as bigint) as units,
        count(distinct s.customer_id) as customers,
        cast(sum(s.net_amount) as decimal(18, 2)) as revenue
    from sales as s
    group by s.period_start

),

trended as (

    select
        p.period_start,
        p.days_with_sales,
        p.orders,
        p.completed_orders,
        p.units,
        p.customers,
        p.revenue,
        lag(p.revenue) over (order by p.period_start) as previous_revenue,
        avg(cast(p.revenue as double)) over (
            order by p.period_start rows between 6 preceding and current row
        ) as revenue_moving_avg
    from periods as p

)

select
    t.period_start,
    t.days_with_sales,
    t.orders,
    t.completed_orders,
    t.units,
    t.customers,
    t.revenue,
    cast(round(cast(t.revenue as double) / nullif(t.completed_orders, 0), 2) as decimal(18, 2)) as avg_order_value,
    cast(round(t.revenue_moving_avg, 2) as decimal(18, 2)) as revenue_moving_avg,
    cast(t.revenue - t.previous_revenue as decimal(18, 2)) as revenue_change,
    round(
        (cast(t.revenue as double) - cast(t.previous_revenue as double))
        / nullif(cast(t.previous_revenue as double), 0),
        4
    ) as revenue_growth
from trended as t
order by t.period_start
