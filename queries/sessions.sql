-- name: sessions
-- Sessions per user (a new session after 30 minutes without events), with session length,
-- pages viewed per session and how many sessions ended in a purchase.
WITH tagged AS (
    SELECT user_id, ts, event_type,
           sessionize(ts, INTERVAL '30 minutes') OVER (PARTITION BY user_id ORDER BY ts) AS session_id
    FROM events
),
per_session AS (
    SELECT user_id, session_id,
           date_part('epoch', max(ts) - min(ts))          AS seconds,
           count(*) FILTER (WHERE event_type = 'view')    AS pages,
           bool_or(event_type = 'purchase')               AS converted
    FROM tagged
    GROUP BY user_id, session_id
)
SELECT user_id,
       count(*)                                 AS sessions,
       round(avg(seconds) / 60, 2)              AS avg_session_minutes,
       round(avg(pages), 2)                     AS pages_per_session,
       sum(CASE WHEN converted THEN 1 ELSE 0 END) AS converting_sessions
FROM per_session
GROUP BY user_id
ORDER BY user_id;
