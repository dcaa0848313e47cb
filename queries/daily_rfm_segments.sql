-- name: daily_rfm_segments
-- schedule: 0 3 * * *
-- timezone: UTC
-- output: rfm/dt={date}/segments.parquet
-- mode: overwrite
-- timeout: 30m
-- retries: 2
-- description: the RFM segment of every buying customer as of the end of the run's day.
-- Recency, frequency and monetary value from the orders placed up to the end of {date}
-- (cancelled orders do not count), scored 1..5 with NTILE (5 is best) and named with
-- rfm_segment. One file per day; re-running a day replaces that day's file only.
WITH as_of AS (
    SELECT CAST({date} AS TIMESTAMP) + INTERVAL '1 day' AS now
),
per_user AS (
    SELECT o.user_id,
           CAST(date_part('epoch', a.now - max(o.ts)) / 86400 AS BIGINT) AS recency_days,
           count(*)                                                     AS frequency,
           round(sum(o.total_amount), 2)                                AS monetary
    FROM orders o CROSS JOIN as_of a
    WHERE o.status <> 'cancelled' AND o.ts < a.now
    GROUP BY o.user_id, a.now
),
scored AS (
    SELECT *,
           ntile(5) OVER (ORDER BY recency_days DESC, user_id) AS r_score,
           ntile(5) OVER (ORDER BY frequency, user_id)         AS f_score,
           ntile(5) OVER (ORDER BY monetary, user_id)          AS m_score
    FROM per_user
)
SELECT {date} AS snapshot_date, user_id, recency_days, frequency, monetary,
       r_score, f_score, m_score, rfm_segment(r_score, f_score, m_score) AS segment
FROM scored
ORDER BY user_id;
