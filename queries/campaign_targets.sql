-- name: campaign_targets
-- schedule: 0 6 * * MON
-- timezone: UTC
-- output: campaign/week={date}/targets.csv
-- timeout: 30m
-- retries: 1
-- description: this week's contact list, with the reasons behind each name.
-- Whom to contact this week, and why: among the customers of one RFM segment (chosen below,
-- 'At Risk' by default) who have not bought in the last 14 days, the top decile by propensity
-- to buy in the next 14 days, each with the three reasons that moved their score most.
--
-- The propensity model learns from the past the way it will be used: features from the 28 days
-- before a cutoff 14 days before the end of the logs, label = bought in the 14 days after it.
-- The same feature definition is then taken as of the end of the logs to score today's
-- customers, so training and scoring can never drift apart. "Today" is the end of the logs,
-- so the file also runs as it is in the shell (`ecomsql sql -f`); a scheduled run uses the
-- data as it stands when it runs, and `--at` only names the output folder.

-- 1. Behaviour per user at two snapshots: 'train' (as of the cutoff, with the label) and
--    'score' (as of the end of the logs, label unknown).
CREATE OR REPLACE VIEW campaign_snapshots AS
WITH bounds AS (SELECT max(ts) AS log_end FROM events),
snapshots AS (
    SELECT 'train' AS snapshot, log_end - INTERVAL '14 days' AS t FROM bounds
    UNION ALL
    SELECT 'score' AS snapshot, log_end AS t FROM bounds
),
activity AS (
    SELECT s.snapshot, e.user_id,
           count(*) FILTER (WHERE e.event_type = 'view')           AS views,
           count(*) FILTER (WHERE e.event_type = 'search')         AS searches,
           count(*) FILTER (WHERE e.event_type = 'add_to_cart')    AS carts,
           count(*) FILTER (WHERE e.event_type = 'begin_checkout') AS checkouts,
           count(DISTINCT date_trunc('day', e.ts))                 AS active_days,
           days_between(max(e.ts), max(s.t))                       AS days_since_last_event
    FROM events e JOIN snapshots s ON e.ts < s.t AND e.ts >= s.t - INTERVAL '28 days'
    GROUP BY s.snapshot, e.user_id
),
history AS (
    SELECT s.snapshot, o.user_id,
           count(*)                                                    AS orders,
           avg(o.total_amount)                                         AS avg_order_value,
           avg(CASE WHEN o.coupon_code IS NULL THEN 0.0 ELSE 1.0 END)  AS coupon_share,
           days_between(max(o.ts), max(s.t))                           AS days_since_last_order
    FROM orders o JOIN snapshots s ON o.ts < s.t
    WHERE o.status <> 'cancelled'
    GROUP BY s.snapshot, o.user_id
),
label AS (
    SELECT o.user_id, count(*) AS orders_after
    FROM orders o JOIN snapshots s ON s.snapshot = 'train' AND o.ts >= s.t
    WHERE o.status <> 'cancelled'
    GROUP BY o.user_id
)
SELECT a.snapshot, a.user_id, a.views, a.searches, a.carts, a.checkouts, a.active_days,
       a.days_since_last_event,
       coalesce(h.orders, 0)            AS orders,
       h.avg_order_value,               -- NULL for users who never bought: left missing
       h.coupon_share,
       h.days_since_last_order,
       u.acquisition_channel,
       CASE WHEN a.snapshot = 'train' THEN coalesce(l.orders_after, 0) > 0 END AS bought,
       hash_split(a.user_id) >= 0.8     AS held_out
FROM activity a
JOIN users u ON u.user_id = a.user_id
LEFT JOIN history h ON h.snapshot = a.snapshot AND h.user_id = a.user_id
LEFT JOIN label l ON a.snapshot = 'train' AND l.user_id = a.user_id;

-- 2. Propensity to buy in the next 14 days, evaluated on the 20% of users held out.
CREATE OR REPLACE MODEL campaign_propensity
OPTIONS (model_type = 'boosted_tree', label = 'bought', data_split = 'column',
         data_split_column = 'held_out', num_trees = 150, max_depth = 4, learning_rate = 0.1)
AS SELECT views, searches, carts, checkouts, active_days, days_since_last_event, orders,
          avg_order_value, coupon_share, days_since_last_order, acquisition_channel,
          bought, held_out
   FROM campaign_snapshots WHERE snapshot = 'train';

-- 3. Today's RFM segment of every buyer, scored exactly as in queries/rfm_segments.sql.
CREATE OR REPLACE VIEW campaign_segments AS
WITH as_of AS (SELECT max(ts) AS now FROM orders),
per_user AS (
    SELECT o.user_id,
           CAST(date_part('epoch', a.now - max(o.ts)) / 86400 AS BIGINT) AS recency_days,
           count(*)                                                     AS frequency,
           round(sum(o.total_amount), 2)                                AS monetary
    FROM orders o CROSS JOIN as_of a
    WHERE o.status <> 'cancelled'
    GROUP BY o.user_id, a.now
)
SELECT user_id,
       rfm_segment(ntile(5) OVER (ORDER BY recency_days DESC, user_id),
                   ntile(5) OVER (ORDER BY frequency, user_id),
                   ntile(5) OVER (ORDER BY monetary, user_id)) AS segment
FROM per_user;

-- 4. Who may be contacted: the chosen segment, no purchase in the last 14 days. Change the
--    segment here ('Cannot Lose Them', 'Need Attention', 'Hibernating', …).
CREATE OR REPLACE VIEW campaign_eligible AS
SELECT c.*, g.segment
FROM campaign_snapshots c
JOIN campaign_segments g ON g.user_id = c.user_id
WHERE c.snapshot = 'score'
  AND g.segment = 'At Risk'
  AND (c.days_since_last_order IS NULL OR c.days_since_last_order >= 14);

-- 5. The top decile by propensity, with the three strongest reasons (TreeSHAP contributions
--    to the log-odds: positive pushes towards buying).
CREATE OR REPLACE VIEW campaign_ranked AS
SELECT user_id, ntile(10) OVER (ORDER BY probability DESC, user_id) AS decile
FROM ml_predict('campaign_propensity', 'SELECT * FROM campaign_eligible');

SELECT user_id, segment,
       round(probability, 4)                                   AS propensity,
       top_feature_attributions[1]['feature']                  AS reason_1,
       round(top_feature_attributions[1]['contribution'], 3)   AS effect_1,
       top_feature_attributions[2]['feature']                  AS reason_2,
       round(top_feature_attributions[2]['contribution'], 3)   AS effect_2,
       top_feature_attributions[3]['feature']                  AS reason_3,
       round(top_feature_attributions[3]['contribution'], 3)   AS effect_3
FROM ml_explain_predict('campaign_propensity',
    'SELECT e.* FROM campaign_eligible e JOIN campaign_ranked r USING (user_id) WHERE r.decile = 1', 3)
ORDER BY propensity DESC, user_id;
