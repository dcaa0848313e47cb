-- The memory soak corpus: analyst query shapes run by benches/soak/soak.py under a memory
-- limit. Each query starts with a `-- name:` line. Results go to /dev/null; only the outcome,
-- the peak RSS and the time count. Every file of queries/ runs too.

-- name: issue20_rfm_with_distinct_category
SELECT user_id, max(ts) AS last_seen,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       sum(price * quantity) FILTER (WHERE event_type = 'purchase') AS revenue,
       count(DISTINCT category) AS cats
FROM events GROUP BY user_id ORDER BY revenue DESC NULLS LAST LIMIT 10;

-- name: distinct_category_with_count
SELECT user_id, count(DISTINCT category), count(*) FROM events GROUP BY user_id ORDER BY 2 DESC LIMIT 10;

-- name: distinct_category_utf8_with_count
SELECT user_id, count(DISTINCT arrow_cast(category, 'Utf8')), count(*) FROM events GROUP BY user_id ORDER BY 2 DESC LIMIT 10;

-- name: distinct_product_with_count
SELECT user_id, count(DISTINCT product_id), count(*) FROM events GROUP BY user_id ORDER BY 2 DESC LIMIT 10;

-- name: distinct_search_query_with_sum
SELECT user_id, count(DISTINCT search_query), sum(quantity) FROM events GROUP BY user_id ORDER BY 2 DESC LIMIT 10;

-- name: distinct_users_per_day_with_count
SELECT dt, count(DISTINCT user_id), count(*) FROM events GROUP BY dt ORDER BY dt;

-- name: distinct_date_per_user_with_max
SELECT user_id, count(DISTINCT CAST(ts AS DATE)) AS active_days, max(ts) FROM events GROUP BY user_id ORDER BY 2 DESC LIMIT 10;

-- name: global_distinct_event_id
SELECT count(DISTINCT event_id), count(DISTINCT user_id) FROM events;

-- name: approx_distinct_category_per_user
SELECT user_id, approx_distinct(category), count(*) FROM events GROUP BY user_id ORDER BY 2 DESC LIMIT 10;

-- name: array_agg_event_type_per_user
SELECT user_id, cardinality(array_agg(event_type)) AS n FROM events GROUP BY user_id ORDER BY n DESC LIMIT 10;

-- name: array_agg_distinct_category_per_user
SELECT user_id, cardinality(array_agg(DISTINCT category)) AS n FROM events GROUP BY user_id ORDER BY n DESC LIMIT 10;

-- name: array_agg_ordered_products_per_user
SELECT user_id, array_agg(product_id ORDER BY ts)[1] AS first_product FROM events GROUP BY user_id ORDER BY user_id LIMIT 10;

-- name: string_agg_event_types_per_user
SELECT user_id, length(string_agg(event_type, ',')) AS len FROM events GROUP BY user_id ORDER BY len DESC LIMIT 10;

-- name: median_price_per_user
SELECT user_id, median(price) AS m FROM events GROUP BY user_id ORDER BY m DESC NULLS LAST LIMIT 10;

-- name: approx_percentile_price_per_user
SELECT user_id, approx_percentile_cont(price, 0.9) AS p90 FROM events GROUP BY user_id ORDER BY p90 DESC NULLS LAST LIMIT 10;

-- name: percentile_cont_within_group_per_user
SELECT user_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS p50 FROM events GROUP BY user_id ORDER BY p50 DESC NULLS LAST LIMIT 10;

-- name: first_value_ordered_per_user
SELECT user_id, first_value(event_type ORDER BY ts) AS first_event, last_value(device ORDER BY ts) AS last_device
FROM events GROUP BY user_id ORDER BY user_id LIMIT 10;

-- name: nested_array_of_structs_per_user
SELECT user_id, cardinality(array_agg(named_struct('ts', ts, 'type', event_type, 'price', price))) AS n
FROM events GROUP BY user_id ORDER BY n DESC LIMIT 10;

-- name: window_row_number_first_event
SELECT event_type, count(*) FROM (
  SELECT event_type, row_number() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM events
) WHERE rn = 1 GROUP BY event_type ORDER BY 2 DESC;

-- name: window_lag_gaps
SELECT max(gap) FROM (
  SELECT ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS gap FROM events
);

-- name: window_running_sum
SELECT max(running) FROM (
  SELECT sum(price * quantity) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS running
  FROM events WHERE event_type = 'purchase'
);

-- name: window_global_rank
SELECT * FROM (
  SELECT event_id, price, rank() OVER (ORDER BY price DESC, event_id) AS r FROM events
) WHERE r <= 10;

-- name: window_ntile_users_by_revenue
SELECT q, count(*), round(sum(revenue), 2) FROM (
  SELECT user_id, revenue, ntile(10) OVER (ORDER BY revenue) AS q FROM (
    SELECT user_id, sum(total_amount) AS revenue FROM orders GROUP BY user_id)
) GROUP BY q ORDER BY q;

-- name: sessionize_readme
SELECT user_id, max(s) AS sessions FROM (
  SELECT user_id, sessionize(ts, INTERVAL '30 minutes') OVER (PARTITION BY user_id ORDER BY ts) AS s
  FROM events) GROUP BY user_id ORDER BY sessions DESC LIMIT 5;

-- name: funnel_readme
SELECT depth, count(*) AS users FROM (
  SELECT user_id, funnel(INTERVAL '1 day', ts, event_type = 'view', event_type = 'add_to_cart',
                         event_type = 'begin_checkout', event_type = 'purchase') AS depth
  FROM events GROUP BY user_id) GROUP BY depth ORDER BY depth;

-- name: funnel_steps_per_user
SELECT count(*) FROM (
  SELECT user_id, funnel_steps(INTERVAL '1 day', ts, event_type = 'view', event_type = 'add_to_cart',
                               event_type = 'purchase') AS steps
  FROM events GROUP BY user_id) WHERE cardinality(steps) = 3;

-- name: retention_weekly
SELECT sum(CASE WHEN r[2] THEN 1 ELSE 0 END), sum(CASE WHEN r[3] THEN 1 ELSE 0 END) FROM (
  SELECT user_id, retention(dt < DATE '2026-01-08', dt >= DATE '2026-01-08' AND dt < DATE '2026-01-15',
                            dt >= DATE '2026-01-15' AND dt < DATE '2026-01-22') AS r
  FROM events GROUP BY user_id);

-- name: rfm_tour
SELECT user_id,
       max(ts) FILTER (WHERE event_type = 'purchase')        AS last_purchase,
       count(*) FILTER (WHERE event_type = 'purchase')       AS purchase_events,
       sum(price * quantity) FILTER (WHERE event_type = 'purchase') AS revenue
FROM events GROUP BY user_id ORDER BY revenue DESC NULLS LAST LIMIT 10;

-- name: event_types_tour
SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC;

-- name: summarize_events
SELECT * FROM summarize('events');

-- name: join_events_users_by_country
SELECT u.country, count(*), round(sum(e.price * e.quantity), 2)
FROM events e JOIN users u ON e.user_id = u.user_id GROUP BY u.country ORDER BY 2 DESC;

-- name: join_events_products_by_brand
SELECT p.brand, count(DISTINCT e.user_id), count(*)
FROM events e JOIN products p ON e.product_id = p.product_id GROUP BY p.brand ORDER BY 3 DESC LIMIT 10;

-- name: self_join_view_then_purchase
SELECT count(*) FROM events v JOIN events p
  ON v.user_id = p.user_id AND v.product_id = p.product_id
WHERE v.event_type = 'add_to_cart' AND p.event_type = 'purchase' AND p.ts > v.ts;

-- name: semi_join_buyers
SELECT count(*) FROM users WHERE user_id IN (SELECT user_id FROM events WHERE event_type = 'purchase');

-- name: anti_join_never_bought
SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id);

-- name: top_k_latest_events
SELECT * FROM events ORDER BY ts DESC, event_id LIMIT 10;

-- name: global_sort_row_numbers
SELECT max(rn) FROM (SELECT row_number() OVER (ORDER BY user_id, ts, event_id) AS rn FROM events);

-- name: distinct_user_product_pairs
SELECT count(*) FROM (SELECT DISTINCT user_id, product_id FROM events);

-- name: group_by_user_product
SELECT user_id, product_id, sum(quantity) AS q FROM events GROUP BY user_id, product_id ORDER BY q DESC LIMIT 10;

-- name: group_by_event_id_57m_groups
SELECT event_id, count(*) FROM events GROUP BY event_id ORDER BY 2 DESC, 1 LIMIT 5;

-- name: group_by_search_query
SELECT search_query, count(*) FROM events WHERE search_query IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10;

-- name: group_by_user_day
SELECT user_id, dt, count(*) AS n FROM events GROUP BY user_id, dt ORDER BY n DESC LIMIT 10;

-- name: union_all_regroup
SELECT kind, count(*) FROM (
  SELECT 'event' AS kind, user_id FROM events UNION ALL SELECT 'order', user_id FROM orders
) GROUP BY kind ORDER BY kind;

-- name: string_functions_on_search
SELECT lower(regexp_replace(search_query, '[^a-z ]', '', 'g')) AS q, count(*) FROM events
WHERE search_query IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10;

-- name: lead_next_purchase_gap
SELECT avg(date_part('epoch', next_ts - ts)) FROM (
  SELECT ts, lead(ts) OVER (PARTITION BY user_id ORDER BY ts) AS next_ts FROM orders
);

-- name: sort_wide_rows_with_limit_offset
SELECT * FROM events ORDER BY search_query, ts LIMIT 10 OFFSET 1000000;
