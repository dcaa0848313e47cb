-- name: churn_model
-- Churn propensity the way it is done in practice: features from the logs before a cutoff
-- date, the label from the 30 days after it (a buyer who makes no purchase in those 30 days
-- has churned). A logistic regression is trained on 80% of the buyers (hash_split, stable
-- across runs) and evaluated on the other 20%; the last result is that held-out evaluation.

-- 1. One row per customer who bought before the cutoff (30 days before the end of the logs).
CREATE OR REPLACE VIEW churn_features AS
WITH bounds AS (SELECT max(ts) - INTERVAL '30 days' AS cutoff FROM orders),
before AS (
    SELECT o.user_id,
           count(*)                                               AS orders,
           sum(o.total_amount)                                    AS revenue,
           avg(o.total_amount)                                    AS avg_order_value,
           avg(CASE WHEN o.coupon_code IS NULL THEN 0.0 ELSE 1.0 END) AS coupon_share,
           days_between(max(o.ts), max(b.cutoff))                 AS days_since_last_order,
           days_between(min(o.ts), max(b.cutoff))                 AS days_since_first_order
    FROM orders o CROSS JOIN bounds b
    WHERE o.ts < b.cutoff AND o.status <> 'cancelled'
    GROUP BY o.user_id
),
activity AS (
    SELECT e.user_id,
           count(*) FILTER (WHERE e.ts >= b.cutoff - INTERVAL '14 days') AS events_last_14d,
           count(*)                                                      AS events_before
    FROM events e CROSS JOIN bounds b
    WHERE e.ts < b.cutoff
    GROUP BY e.user_id
),
after AS (
    SELECT o.user_id, count(*) AS orders_after
    FROM orders o CROSS JOIN bounds b
    WHERE o.ts >= b.cutoff AND o.status <> 'cancelled'
    GROUP BY o.user_id
)
SELECT b.user_id, b.orders, b.revenue, b.avg_order_value, b.coupon_share,
       b.days_since_last_order, b.days_since_first_order,
       coalesce(a.events_last_14d, 0)                        AS events_last_14d,
       coalesce(a.events_before, 0)                          AS events_before,
       u.acquisition_channel,
       coalesce(f.orders_after, 0) = 0                       AS churned,
       hash_split(b.user_id) >= 0.8                          AS held_out
FROM before b
JOIN users u ON u.user_id = b.user_id
LEFT JOIN activity a ON a.user_id = b.user_id
LEFT JOIN after f ON f.user_id = b.user_id;

-- 2. Train on the 80% part; the held_out column marks the evaluation rows.
CREATE OR REPLACE MODEL churn
OPTIONS (model_type = 'logistic_reg', label = 'churned', class_weights = 'balanced',
         data_split = 'column', data_split_column = 'held_out')
AS SELECT orders, revenue, avg_order_value, coupon_share, days_since_last_order,
          days_since_first_order, events_last_14d, events_before, acquisition_channel,
          churned, held_out
   FROM churn_features;

-- 3. Held-out quality, computed two ways: ml_evaluate, and the metric aggregates on scores.
SELECT e.rows, round(e.roc_auc, 4) AS roc_auc, round(e.pr_auc, 4) AS pr_auc,
       round(e.log_loss, 4) AS log_loss, round(e.brier, 4) AS brier,
       round(e.accuracy, 4) AS accuracy, round(e.recall, 4) AS recall,
       round(s.auc, 4) AS roc_auc_check, round(s.lift_top_decile, 2) AS lift_top_decile,
       round(s.churn_rate, 4) AS churn_rate
FROM ml_evaluate('churn', 'SELECT * FROM churn_features WHERE held_out') e
CROSS JOIN (
    SELECT roc_auc(churned, p) AS auc, lift_at(churned, p, 0.1) AS lift_top_decile,
           avg(CASE WHEN churned THEN 1.0 ELSE 0.0 END) AS churn_rate
    FROM (SELECT churned,
                 predict_proba('churn', orders, revenue, avg_order_value, coupon_share,
                               days_since_last_order, days_since_first_order, events_last_14d,
                               events_before, acquisition_channel) AS p
          FROM churn_features WHERE held_out)
) s;
