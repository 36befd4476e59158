-- title: Daily KPIs
-- question: How did revenue, orders, customers, conversion, returns and ratings move day
--   by day over the range?
-- grain: one row per date with data in daily_kpis, oldest first.
-- param: start_date date = end_date - 29 days | first date of the range (inclusive)
-- param: end_date date = latest(daily_kpis) | last date of the range (inclusive); default: newest KPI partition
-- notes: the KPIs are computed once per date by the master merge job (curated/daily_kpis);
--   this query only selects the range, so the dashboard tiles and the anomaly checks read
--   the same numbers. The rates are rounded (6 decimals, the rating 4) so that Athena's
--   text results and the local engine's give the same numbers to the last digit.

with

kpis as (

    select
        k."date",
        k.revenue,
        k.orders,
        k.completed_orders,
        k.units,
        k.customers,
        k.new_customers,
        k.avg_order_value,
        k.returns,
        k.return_rate,
        k.sessions,
        k.converted_sessions,
        k.conversion_rate,
        k.reviews,
        k.avg_rating
    from daily_kpis as k
    where k."date" between :start_date and :end_date

)

select
    kpis."date",
    kpis.revenue,
    kpis.orders,
    kpis.completed_orders,
    kpis.units,
    kpis.customers,
    kpis.new_customers,
    kpis.avg_order_value,
    kpis.returns,
    round(kpis.return_rate, 6) as return_rate,
    kpis.sessions,
    kpis.converted_sessions,
    round(kpis.conversion_rate, 6) as conversion_rate,
    kpis.reviews,
    round(kpis.avg_rating, 4) as avg_rating
from kpis
order by kpis."date"
