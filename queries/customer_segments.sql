-- name: customer_segments
-- Customer segments: behavioural features per user, a k-means model over them, and a profile
-- of each segment (size, revenue, recency, behaviour) — the BigQuery ML k-means workflow,
-- in one file. Run it with: ecomsql sql -f queries/customer_segments.sql

-- 1. One row of behavioural features per user, as of the last day in the logs.
CREATE OR REPLACE VIEW user_features AS
WITH now AS (SELECT max(ts) AS t FROM events),
ev AS (
    SELECT user_id,
           count(*) FILTER (WHERE event_type = 'view')        AS views,
           count(*) FILTER (WHERE event_type = 'search')      AS searches,
           count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds,
           count(DISTINCT date_trunc('day', ts))              AS active_days,
           max(ts)                                            AS last_seen
    FROM events
    GROUP BY user_id
),
od AS (
    SELECT user_id,
           count(*)                                                     AS orders,
           sum(total_amount)                                            AS revenue,
           avg(CASE WHEN coupon_code IS NULL THEN 0.0 ELSE 1.0 END)    AS coupon_share
    FROM orders
    GROUP BY user_id
)
SELECT u.user_id,
       ln(1 + coalesce(ev.views, 0))                                      AS log_views,
       ln(1 + coalesce(ev.searches, 0))                                   AS log_searches,
       CAST(coalesce(ev.cart_adds, 0) AS DOUBLE)
           / greatest(coalesce(ev.views, 0), 1)                           AS cart_rate,
       ln(1 + coalesce(od.orders, 0))                                     AS log_orders,
       coalesce(od.revenue / od.orders, 0)                                AS avg_order_value,
       coalesce(od.coupon_share, 0)                                       AS coupon_share,
       CAST(coalesce(ev.active_days, 0) AS DOUBLE)                        AS active_days,
       coalesce(days_between(ev.last_seen, now.t), days_between(u.signup_ts, now.t)) AS recency_days,
       days_between(u.signup_ts, now.t)                                   AS tenure_days,
       coalesce(od.revenue, 0)                                            AS revenue
FROM users u
LEFT JOIN ev USING (user_id)
LEFT JOIN od USING (user_id)
CROSS JOIN now;

-- 2. Six segments over the behaviour (not the revenue itself, which profiles them below).
--    Numeric features are standardised; the scaling is stored with the model.
CREATE OR REPLACE MODEL customer_segments
OPTIONS (model_type = 'kmeans', num_clusters = 6, n_init = 4, seed = 42)
AS SELECT log_views, log_searches, cart_rate, log_orders, avg_order_value, coupon_share,
          active_days, recency_days, tenure_days
   FROM user_features;

-- 3. Profile each segment: who is in it and what they are worth.
SELECT centroid_id                                              AS segment,
       count(*)                                                 AS users,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1)       AS share_pct,
       round(avg(revenue), 2)                                   AS revenue_per_user,
       round(sum(revenue), 2)                                   AS revenue,
       round(avg(exp(log_orders) - 1), 2)                       AS orders_per_user,
       round(avg(avg_order_value), 2)                           AS avg_order_value,
       round(avg(coupon_share), 2)                              AS coupon_share,
       round(avg(recency_days), 1)                              AS recency_days,
       round(avg(tenure_days), 1)                               AS tenure_days
FROM ml_predict('customer_segments', 'SELECT * FROM user_features')
GROUP BY centroid_id
ORDER BY centroid_id;
