-- name: rfm_segments
-- Recency, frequency and monetary value per buying customer, scored 1..5 with NTILE (5 is
-- best), and the named RFM segment. Cancelled orders do not count. "Now" is the last order.
WITH as_of AS (
    SELECT max(ts) AS now FROM orders
),
per_user AS (
    SELECT o.user_id,
           CAST(date_part('epoch', a.now - max(o.ts)) / 86400 AS BIGINT) AS recency_days,
           count(*)                                                     AS frequency,
           round(sum(o.total_amount), 2)                                AS monetary
    FROM orders o CROSS JOIN as_of a
    WHERE o.status <> 'cancelled'
    GROUP BY o.user_id, a.now
),
scored AS (
    SELECT *,
           ntile(5) OVER (ORDER BY recency_days DESC, user_id) AS r_score,
           ntile(5) OVER (ORDER BY frequency, user_id)         AS f_score,
           ntile(5) OVER (ORDER BY monetary, user_id)          AS m_score
    FROM per_user
)
SELECT user_id, recency_days, frequency, monetary, r_score, f_score, m_score,
       rfm_segment(r_score, f_score, m_score) AS segment
FROM scored
ORDER BY user_id;
