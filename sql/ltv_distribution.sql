-- title: Customer lifetime value distribution
-- question: How are all customers spread over lifetime value: how many fall in each band of
--   value, and how much of all lifetime value does each band hold?
-- grain: one row per lifetime-value band, lowest first, empty bands included; the last band
--   is open-ended (band_end null) and holds every customer at or above its start. No rows
--   when there are no customers.
-- param: band_width double(0.01..) = null | dollars per band; null picks a round width (1, 2 or 5 x 10^n dollars)
-- param: bands int(1..200) = 10 | closed bands before the open-ended last one (at most, with the automatic width)
-- notes: over every customer in dim_customers (all time, as of the latest transaction;
--   dim_customers has no date partitions, so no date range), so the band counts sum to the
--   number of customers. A band holds [band_start, band_end): a customer goes to band
--   floor(lifetime_value / band_width), and every band from the last closed one up to the
--   open-ended one. The automatic width is the smallest round width whose `bands` bands reach
--   the 95th percentile (nearest rank: the value at rank ceil(0.95 n), ascending), and the
--   closed bands stop at the first one past that percentile; a given width keeps all `bands`.

with

customers as (

    select cast(dc.lifetime_value as double) as lifetime_value
    from dim_customers as dc
    where dc.lifetime_value is not null

),

ranked as (

    select
        c.lifetime_value,
        row_number() over (order by c.lifetime_value) as value_rank,
        count(*) over () as customers_total
    from customers as c

),

percentile as (

    select max(r.lifetime_value) as value_p95
    from ranked as r
    where r.value_rank = cast(ceil(0.95 * r.customers_total) as bigint)

),

ladder as (

    select l.width
    from (
        values
        (1.0), (2.0), (5.0), (10.0), (20.0), (50.0), (100.0), (200.0), (500.0),
        (1000.0), (2000.0), (5000.0), (10000.0), (20000.0), (50000.0),
        (100000.0), (200000.0), (500000.0), (1000000.0), (2000000.0), (5000000.0)
    ) as l (width)

),

auto_width as (

    select min(l.width) as width
    from ladder as l
    cross join percentile as p
    where l.width * :bands >= coalesce(p.value_p95, 0)

),

layout as (

    select
        coalesce(:band_width, a.width) as band_width,
        case
            when :band_width is not null then :bands
            else least(:bands, greatest(1, cast(ceil(cast(coalesce(p.value_p95, 0) as double) / a.width) as bigint)))
        end as closed_bands
    from auto_width as a
    cross join percentile as p

),

totals as (

    select
        count(*) as customers_total,
        sum(c.lifetime_value) as value_total
    from customers as c

),

placed as (

    select
        greatest(0, least(cast(floor(cast(c.lifetime_value as double) / l.band_width) as bigint), l.closed_bands))
            as band_index,
        c.lifetime_value
    from customers as c
    cross join layout as l

),

band_totals as (

    select
        pl.band_index,
        count(*) as customers,
        sum(pl.lifetime_value) as band_value
    from placed as pl
    group by pl.band_index

),

bands as (

    select b.band_index
    from layout as l
    cross join totals as t
    cross join unnest(sequence(0, l.closed_bands)) as b (band_index)
    where t.customers_total > 0

)

select
    b.band_index,
    cast(round(b.band_index * l.band_width, 2) as decimal(18, 2)) as band_start,
    case
        when b.band_index < l.closed_bands then cast(round((b.band_index + 1) * l.band_width, 2) as decimal(18, 2))
    end as band_end,
    coalesce(bt.customers, 0) as customers,
    round(cast(coalesce(bt.customers, 0) as double) / t.customers_total, 4) as customer_share,
    cast(round(coalesce(bt.band_value, 0), 2) as decimal(18, 2)) as lifetime_value,
    round(cast(coalesce(bt.band_value, 0) as double) / nullif(t.value_total, 0), 4) as value_share,
    t.customers_total
from bands as b
cross join layout as l
cross join totals as t
left join band_totals as bt on b.band_index = bt.band_index
order by b.band_index
