-- title: Conversion funnel
-- question: How many sessions reach each stage of the funnel (page view, product view, add
--   to cart, checkout, purchase), and what share go on from each stage to the next, overall
--   and by device?
-- grain: one row per (period_start, device, stage): device 'all' plus each device seen,
--   the five funnel stages in order; period_start is start_date for the whole range
--   (by = range) or each date (by = day).
-- param: start_date date = end_date - 29 days | first date of the range (inclusive)
-- param: end_date date = latest(fct_sessions) | last date of the range (inclusive); default: newest sessions partition
-- param: by choice(range, day) = range | one funnel for the whole range, or one per day
-- notes: a session reaches a stage when its furthest stage is that stage or a later one
--   (schemas.FUNNEL_STAGES order), so each stage's count is at most the previous one's.
--   step_conversion = sessions at this stage / sessions at the previous stage (1 for the
--   first stage); overall_conversion = sessions at this stage / sessions at the first.

with

stages (stage, stage_order) as (

    values
        ('page_view', 1),
        ('product_view', 2),
        ('add_to_cart', 3),
        ('checkout', 4),
        ('purchase', 5)

),

funnel_sessions as (

    select
        case when :by = 'day' then s."date" else :start_date end as period_start,
        s.device,
        st.stage_order as furthest_order
    from fct_sessions as s
    inner join stages as st on st.stage = s.furthest_stage
    where s."date" between :start_date and :end_date

),

reached as (

    select
        se.period_start,
        se.device,
        st.stage_order
    from funnel_sessions as se
    inner join stages as st on st.stage_order <= se.furthest_order

),

counts as (

    select
        r.period_start,
        case when grouping(r.device) = 1 then 'all' else r.device end as device,
        r.stage_order,
        count(*) as sessions
    from reached as r
    group by grouping sets ((r.period_start, r.stage_order, r.device), (r.period_start, r.stage_order))

),

grid as (

    select
        c.period_start,
        c.device,
        st.stage,
        st.stage_order
    from counts as c
    cross join stages as st
    where c.stage_order = 1

),

filled as (

    select
        g.period_start,
        g.device,
        g.stage,
        g.stage_order,
        coalesce(c.sessions, 0) as sessions
    from grid as g
    left join counts as c
        on c.period_start = g.period_start
        and c.device = g.device
        and c.stage_order = g.stage_order

)

select
    f.period_start,
    f.device,
    f.stage_order,
    f.stage,
    f.sessions,
    round(
        cast(f.sessions as double)
        / nullif(coalesce(lag(f.sessions) over (
            partition by f.period_start, f.device order by f.stage_order
        ), f.sessions), 0),
        4
    ) as step_conversion,
    round(
        cast(f.sessions as double)
        / nullif(first_value(f.sessions) over (
            partition by f.period_start, f.device order by f.stage_order
        ), 0),
        4
    ) as overall_conversion
from filled as f
order by f.period_start, case when f.device = 'all' then 0 else 1 end, f.device, f.stage_order
