-- name: cohort_retention
-- Weekly sign-up cohorts × weeks since sign-up: how many users of each cohort were active in
-- their first week, and how many of those came back in each following week. Only users who
-- signed up during the logs count; a cell is NULL until that week is fully in the logs.
WITH logs AS (
    SELECT min(ts) AS first_ts, max(ts) AS last_ts FROM events
),
activity AS (
    SELECT u.user_id,
           date_trunc('week', u.signup_ts) AS cohort_week,
           max(u.signup_ts)                AS signup_ts,
           retention(
               e.ts <  u.signup_ts + INTERVAL '7 days',
               e.ts >= u.signup_ts + INTERVAL '7 days'  AND e.ts < u.signup_ts + INTERVAL '14 days',
               e.ts >= u.signup_ts + INTERVAL '14 days' AND e.ts < u.signup_ts + INTERVAL '21 days',
               e.ts >= u.signup_ts + INTERVAL '21 days' AND e.ts < u.signup_ts + INTERVAL '28 days',
               e.ts >= u.signup_ts + INTERVAL '28 days' AND e.ts < u.signup_ts + INTERVAL '35 days'
           ) AS r
    FROM users u
    JOIN events e USING (user_id)
    CROSS JOIN logs l
    WHERE u.signup_ts >= l.first_ts
    GROUP BY u.user_id, date_trunc('week', u.signup_ts)
),
cohorts AS (
    SELECT cohort_week,
           count(*)                              AS users,
           max(signup_ts)                        AS last_signup,
           sum(CASE WHEN r[1] THEN 1 ELSE 0 END) AS w0,
           sum(CASE WHEN r[2] THEN 1 ELSE 0 END) AS w1,
           sum(CASE WHEN r[3] THEN 1 ELSE 0 END) AS w2,
           sum(CASE WHEN r[4] THEN 1 ELSE 0 END) AS w3,
           sum(CASE WHEN r[5] THEN 1 ELSE 0 END) AS w4
    FROM activity
    GROUP BY cohort_week
)
-- Week i of a cohort is observable once its last member's week i has ended.
SELECT c.cohort_week, c.users,
       CASE WHEN c.last_signup + INTERVAL '7 days'  <= l.last_ts THEN c.w0 END AS week_0,
       CASE WHEN c.last_signup + INTERVAL '14 days' <= l.last_ts THEN c.w1 END AS week_1,
       CASE WHEN c.last_signup + INTERVAL '21 days' <= l.last_ts THEN c.w2 END AS week_2,
       CASE WHEN c.last_signup + INTERVAL '28 days' <= l.last_ts THEN c.w3 END AS week_3,
       CASE WHEN c.last_signup + INTERVAL '35 days' <= l.last_ts THEN c.w4 END AS week_4
FROM cohorts c CROSS JOIN logs l
ORDER BY c.cohort_week;
