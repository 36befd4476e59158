-- title: Customer segments (RFM)
-- question: How many customers fall in each RFM segment, and what share of customers and
--   of lifetime revenue does each segment hold?
-- grain: one row per RFM segment (all eight, in schemas.RFM_SEGMENTS order, including
--   segments with no customers).
-- param: min_orders int(0..) = 0 | only customers with at least this many completed orders
-- notes: segments come from dim_customers (recency, frequency and monetary quintiles as of
--   the latest transaction date); it is rebuilt from all data, so there is no date range.
--   Shares are of the customers (and revenue) that pass min_orders.

with

segments (segment, segment_order) as (

    values
        ('Champions', 1),
        ('Loyal', 2),
        ('Potential Loyalist', 3),
        ('New', 4),
        ('At Risk', 5),
        ('Needs Attention', 6),
        ('Hibernating', 7),
        ('Lost', 8)

),

customers as (

    select
        dc.customer_id,
        dc.segment,
        dc.orders,
        dc.lifetime_value,
        dc.recency_days,
        dc.r_score,
        dc.f_score,
        dc.m_score
    from dim_customers as dc
    where dc.orders >= :min_orders

),

per_segment as (

    select
        c.segment,
        count(*) as customers,
        cast(sum(c.lifetime_value) as decimal(18, 2)) as revenue,
        avg(cast(c.lifetime_value as double)) as avg_lifetime_value,
        avg(cast(c.orders as double)) as avg_orders,
        avg(cast(c.recency_days as double)) as avg_recency_days,
        avg(cast(c.r_score as double)) as avg_r_score,
        avg(cast(c.f_score as double)) as avg_f_score,
        avg(cast(c.m_score as double)) as avg_m_score
    from customers as c
    group by c.segment

),

totals as (

    select
        count(*) as customers,
        cast(sum(c.lifetime_value) as double) as revenue
    from customers as c

)

select
    s.segment,
    coalesce(p.customers, 0) as customers,
    round(cast(coalesce(p.customers, 0) as double) / nullif(t.customers, 0), 4) as customer_share,
    coalesce(p.revenue, cast(0 as decimal(18, 2))) as revenue,
    round(cast(coalesce(p.revenue, 0) as double) / nullif(t.revenue, 0), 4) as revenue_share,
    cast(round(p.avg_lifetime_value, 2) as decimal(18, 2)) as avg_lifetime_value,
    round(p.avg_orders, 2) as avg_orders,
    round(p.avg_recency_days, 1) as avg_recency_days,
    round(p.avg_r_score, 2) as avg_r_score,
    round(p.avg_f_score, 2) as avg_f_score,
    round(p.avg_m_score, 2) as avg_m_score
from segments as s
cross join totals as t
left join per_segment as p on p.segment = s.segment
order by s.segment_order
