-- name: daily_review_sentiment
-- schedule: 30 2 * * *
-- timezone: UTC
-- output: sentiment/dt={date}/categories.csv
-- timeout: 30m
-- retries: 1
-- description: review sentiment of the last 7 days per product category and language.
-- Reviews written in the 7 days ending with {date} (UTC days, as the logs are), per category
-- and language: how many, the average sentiment score, the shares labelled positive and
-- negative, and the average star rating beside them.
SELECT {date}                                                                      AS dt,
       p.category,
       r.language,
       count(*)                                                                    AS reviews,
       round(avg(sentiment(r.review_text, r.language)), 3)                         AS avg_sentiment,
       round(avg(CASE WHEN sentiment_label(r.review_text, r.language) = 'positive' THEN 1.0 ELSE 0.0 END), 3) AS positive_share,
       round(avg(CASE WHEN sentiment_label(r.review_text, r.language) = 'negative' THEN 1.0 ELSE 0.0 END), 3) AS negative_share,
       round(avg(r.rating), 2)                                                     AS avg_rating
FROM reviews r JOIN products p USING (product_id)
WHERE r.ts >= CAST({date} AS TIMESTAMP) - INTERVAL '6 days'
  AND r.ts <  CAST({date} AS TIMESTAMP) + INTERVAL '1 day'
GROUP BY p.category, r.language
ORDER BY p.category, r.language;
