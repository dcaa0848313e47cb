-- name: review_sentiment
-- Sentiment of reviews per product category and week, in both languages: the average score,
-- the share of positive and negative reviews, and the average star rating beside them.
SELECT p.category,
       date_trunc('week', r.ts)                                                   AS week,
       count(*)                                                                   AS reviews,
       round(avg(sentiment(r.review_text, r.language)), 3)                        AS avg_sentiment,
       round(avg(CASE WHEN sentiment_label(r.review_text, r.language) = 'positive' THEN 1.0 ELSE 0.0 END), 3) AS positive_share,
       round(avg(CASE WHEN sentiment_label(r.review_text, r.language) = 'negative' THEN 1.0 ELSE 0.0 END), 3) AS negative_share,
       round(avg(r.rating), 2)                                                    AS avg_rating
FROM reviews r JOIN products p USING (product_id)
GROUP BY p.category, date_trunc('week', r.ts)
ORDER BY p.category, week;
