-- name: negative_reviews
-- The 20 most negative reviews of the last 7 days of data, with why: each token that moved the
-- score and its contribution (from sentiment_explain, in text order), most negative first.
WITH recent AS (
  SELECT review_id, rating, language, review_text, sentiment(review_text, language) AS s,
         sentiment_explain(review_text, language) AS items
  FROM reviews
  WHERE ts >= (SELECT max(ts) FROM reviews) - INTERVAL '7 days'
  ORDER BY s, review_id
  LIMIT 20),
positions AS (
  SELECT review_id, items, unnest(range(1, CAST(cardinality(items) AS BIGINT) + 1)) AS pos FROM recent),
why AS (
  SELECT review_id,
         string_agg(items[pos]['token'] || ' (' || CAST(round(items[pos]['contribution'], 2) AS VARCHAR) || ')',
                    ' | ' ORDER BY pos) AS why
  FROM positions GROUP BY review_id)
SELECT recent.review_id, recent.rating, round(recent.s, 3) AS score, recent.language,
       why.why, recent.review_text
FROM recent LEFT JOIN why USING (review_id)
ORDER BY recent.s, recent.review_id;
