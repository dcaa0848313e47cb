-- name: weekly_churn_scores
-- schedule: 0 4 * * MON
-- timezone: UTC
-- output: churn/week={date}/scores.parquet
-- timeout: 1h
-- retries: 1
-- param: min_orders = 1
-- description: retrain the churn model every week and score every customer with it.
-- The model trains on features from the orders and events before {date} - 30 days, labelled
-- churned when the customer made no purchase in the 30 days after that cutoff (logistic
-- regression, balanced classes, 20% held out by a stable hash). It then scores the same
-- features as of {date} for every customer with at least {min_orders} orders; the output is
-- each customer's churn probability, highest first.
CREATE OR REPLACE VIEW weekly_churn_features AS
WITH cutoffs AS (
    SELECT 'train' AS kind, CAST({date} AS TIMESTAMP) - INTERVAL '30 days' AS cutoff
    UNION ALL
    SELECT 'score' AS kind, CAST({date} AS TIMESTAMP) AS cutoff
),
before AS (
    SELECT c.kind, o.user_id,
           count(*)                                                   AS orders,
           sum(o.total_amount)                                        AS revenue,
           avg(o.total_amount)                                        AS avg_order_value,
           avg(CASE WHEN o.coupon_code IS NULL THEN 0.0 ELSE 1.0 END) AS coupon_share,
           days_between(max(o.ts), max(c.cutoff))                     AS days_since_last_order,
           days_between(min(o.ts), max(c.cutoff))                     AS days_since_first_order
    FROM orders o JOIN cutoffs c ON o.ts < c.cutoff
    WHERE o.status <> 'cancelled'
    GROUP BY c.kind, o.user_id
),
activity AS (
    SELECT c.kind, e.user_id,
           count(*) FILTER (WHERE e.ts >= c.cutoff - INTERVAL '14 days') AS events_last_14d,
           count(*)                                                      AS events_before
    FROM events e JOIN cutoffs c ON e.ts < c.cutoff
    GROUP BY c.kind, e.user_id
),
after AS (
    SELECT o.user_id, count(*) AS orders_after
    FROM orders o JOIN cutoffs c
      ON c.kind = 'train' AND o.ts >= c.cutoff AND o.ts < c.cutoff + INTERVAL '30 days'
    WHERE o.status <> 'cancelled'
    GROUP BY o.user_id
)
SELECT b.kind, b.user_id, b.orders, b.revenue, b.avg_order_value, b.coupon_share,
       b.days_since_last_order, b.days_since_first_order,
       coalesce(a.events_last_14d, 0) AS events_last_14d,
       coalesce(a.events_before, 0)   AS events_before,
       u.acquisition_channel,
       CASE WHEN b.kind = 'train' THEN coalesce(f.orders_after, 0) = 0 END AS churned
FROM before b
JOIN users u ON u.user_id = b.user_id
LEFT JOIN activity a ON a.kind = b.kind AND a.user_id = b.user_id
LEFT JOIN after f ON f.user_id = b.user_id
WHERE b.orders >= {min_orders};

CREATE OR REPLACE MODEL weekly_churn
OPTIONS (model_type = 'logistic_reg', label = 'churned', class_weights = 'balanced')
AS SELECT orders, revenue, avg_order_value, coupon_share, days_since_last_order,
          days_since_first_order, events_last_14d, events_before, acquisition_channel, churned
   FROM weekly_churn_features WHERE kind = 'train';

SELECT {date} AS scored_on, user_id,
       round(predict_proba('weekly_churn', orders, revenue, avg_order_value, coupon_share,
                           days_since_last_order, days_since_first_order, events_last_14d,
                           events_before, acquisition_channel), 4) AS churn_probability,
       orders, round(revenue, 2) AS revenue, days_since_last_order, events_last_14d
FROM weekly_churn_features
WHERE kind = 'score'
ORDER BY churn_probability DESC, user_id;
