-- name: purchase_propensity
-- Who will buy in the next 14 days? Behaviour in the 28 days before a cutoff (14 days before the
-- end of the logs) against purchases in the 14 days after it, for every user active before the
-- cutoff. Gradient-boosted trees (missing values and the acquisition channel handled natively),
-- trained on 80% of users (hash_split) and evaluated on the rest; the last result is the
-- held-out lift table — whom to contact first, and how much better than random that is.

CREATE OR REPLACE VIEW purchase_features AS
WITH bounds AS (SELECT max(ts) - INTERVAL '14 days' AS cutoff FROM events),
recent AS (
    SELECT e.user_id,
           count(*) FILTER (WHERE e.event_type = 'view')           AS views,
           count(*) FILTER (WHERE e.event_type = 'search')         AS searches,
           count(*) FILTER (WHERE e.event_type = 'add_to_cart')    AS carts,
           count(*) FILTER (WHERE e.event_type = 'begin_checkout') AS checkouts,
           count(*) FILTER (WHERE e.event_type = 'purchase')       AS purchases,
           count(DISTINCT date_trunc('day', e.ts))                 AS active_days,
           days_between(max(e.ts), max(b.cutoff))                  AS days_since_last_event
    FROM events e CROSS JOIN bounds b
    WHERE e.ts < b.cutoff AND e.ts >= b.cutoff - INTERVAL '28 days'
    GROUP BY e.user_id
),
spend AS (
    SELECT o.user_id, avg(o.total_amount) AS avg_order_value
    FROM orders o CROSS JOIN bounds b
    WHERE o.ts < b.cutoff AND o.status <> 'cancelled'
    GROUP BY o.user_id
),
after AS (
    SELECT o.user_id, count(*) AS orders_after
    FROM orders o CROSS JOIN bounds b
    WHERE o.ts >= b.cutoff AND o.status <> 'cancelled'
    GROUP BY o.user_id
)
SELECT r.user_id, r.views, r.searches, r.carts, r.checkouts, r.purchases, r.active_days,
       r.days_since_last_event,
       s.avg_order_value,                         -- NULL for users who never bought: left missing
       u.acquisition_channel,
       coalesce(a.orders_after, 0) > 0           AS bought,
       hash_split(r.user_id) >= 0.8              AS held_out
FROM recent r
JOIN users u ON u.user_id = r.user_id
LEFT JOIN spend s ON s.user_id = r.user_id
LEFT JOIN after a ON a.user_id = r.user_id;

CREATE OR REPLACE MODEL purchase_propensity
OPTIONS (model_type = 'boosted_tree', label = 'bought', data_split = 'column',
         data_split_column = 'held_out', num_trees = 200, max_depth = 4, learning_rate = 0.1)
AS SELECT views, searches, carts, checkouts, purchases, active_days, days_since_last_event,
          avg_order_value, acquisition_channel, bought, held_out
   FROM purchase_features;

SELECT bucket, users, round(positives, 1) AS buyers, round(rate, 3) AS buy_rate,
       round(lift, 2) AS lift, round(cumulative_gain, 3) AS cumulative_gain
FROM ml_lift_table('purchase_propensity', 'SELECT * FROM purchase_features WHERE held_out', 10)
ORDER BY bucket;
