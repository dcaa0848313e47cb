-- name: shop_overview
-- One row per day: visitors, sessions-worth of activity, funnel counts and revenue.
-- A starting point for a daily KPI report.
SELECT e.dt,
       count(DISTINCT e.user_id)                                        AS active_users,
       count(*) FILTER (WHERE e.event_type = 'view')                    AS views,
       count(*) FILTER (WHERE e.event_type = 'add_to_cart')             AS add_to_carts,
       count(*) FILTER (WHERE e.event_type = 'begin_checkout')          AS checkouts,
       count(DISTINCT CASE WHEN e.event_type = 'purchase' THEN e.user_id END) AS buyers,
       round(sum(e.price * e.quantity) FILTER (WHERE e.event_type = 'purchase'), 2) AS gross_revenue
FROM events e
GROUP BY e.dt
ORDER BY e.dt;
