-- title: Customer lifetime value
-- question: Who are the most valuable customers, and where do they sit in the distribution
--   of lifetime value (decile, percentile, share of all value)?
-- grain: one row per customer among the top_n by lifetime value, ranked 1..top_n.
-- param: top_n int(1..100000) = 100 | customers to list
-- notes: lifetime value is the completed revenue of every transaction in the lake, as of
--   the latest transaction date (dim_customers is rebuilt from all processed data, so it
--   has no date partitions and no date range). Decile 1 holds the top 10% of customers;
--   top_share_of_customers is the share of customers at or above this one;
--   cumulative_value_share is the share of all lifetime value held by the customers at or
--   above this one (the Pareto curve). Ties are broken by customer_id.

with

customers as (

    select
        dc.customer_id,
        dc.segment,
        dc.orders,
        dc.lifetime_value,
        dc.avg_order_value,
        dc.first_purchase_date,
        dc.last_purchase_date,
        dc.recency_days
    from dim_customers as dc

),

positioned as (

    select
        c.customer_id,
        c.segment,
        c.orders,
        c.lifetime_value,
        c.avg_order_value,
        c.first_purchase_date,
        c.last_purchase_date,
        c.recency_days,
        row_number() over (order by c.lifetime_value desc, c.customer_id) as ltv_rank,
        ntile(10) over (order by c.lifetime_value desc, c.customer_id) as ltv_decile,
        count(*) over () as customers_total,
        sum(c.lifetime_value) over () as value_total,
        sum(c.lifetime_value) over (
            order by c.lifetime_value desc, c.customer_id
            rows between unbounded preceding and current row
        ) as value_cumulative
    from customers as c

)

select
    p.ltv_rank,
    p.customer_id,
    p.segment,
    p.orders,
    p.lifetime_value,
    p.avg_order_value,
    p.first_purchase_date,
    p.last_purchase_date,
    p.recency_days,
    p.ltv_decile,
    round(cast(p.ltv_rank as double) / p.customers_total, 4) as top_share_of_customers,
    round(cast(p.lifetime_value as double) / nullif(cast(p.value_total as double), 0), 6) as value_share,
    round(cast(p.value_cumulative as double) / nullif(cast(p.value_total as double), 0), 4) as cumulative_value_share
from positioned as p
where p.ltv_rank <= :top_n
order by p.ltv_rank
