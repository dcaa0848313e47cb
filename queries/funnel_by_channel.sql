-- name: funnel_by_channel
-- The purchase funnel (view → add_to_cart → begin_checkout → purchase, each step within one
-- day of the first) per acquisition channel and device: users reaching each step, overall
-- conversion, and the average minutes between steps of the chains that got there.
WITH per_user AS (
    SELECT e.user_id, e.device,
           funnel_steps(INTERVAL '1 day', e.ts,
                        e.event_type = 'view',
                        e.event_type = 'add_to_cart',
                        e.event_type = 'begin_checkout',
                        e.event_type = 'purchase') AS steps
    FROM events e
    GROUP BY e.user_id, e.device
)
SELECT u.acquisition_channel,
       p.device,
       count(*) FILTER (WHERE cardinality(p.steps) >= 1) AS viewed,
       count(*) FILTER (WHERE cardinality(p.steps) >= 2) AS added_to_cart,
       count(*) FILTER (WHERE cardinality(p.steps) >= 3) AS checked_out,
       count(*) FILTER (WHERE cardinality(p.steps) >= 4) AS purchased,
       round(100.0 * count(*) FILTER (WHERE cardinality(p.steps) >= 4)
             / nullif(count(*) FILTER (WHERE cardinality(p.steps) >= 1), 0), 2) AS conversion_pct,
       round(avg(date_part('epoch', p.steps[2] - p.steps[1])) / 60, 1) AS view_to_cart_min,
       round(avg(date_part('epoch', p.steps[3] - p.steps[2])) / 60, 1) AS cart_to_checkout_min,
       round(avg(date_part('epoch', p.steps[4] - p.steps[3])) / 60, 1) AS checkout_to_purchase_min
FROM per_user p
JOIN users u USING (user_id)
GROUP BY u.acquisition_channel, p.device
ORDER BY u.acquisition_channel, p.device;
