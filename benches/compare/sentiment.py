"""Sentiment side by side: ecomsql's sentiment() against VADER (English) and SnowNLP (Chinese) on
the same generated reviews. Prints agreement of each scorer's label with the rating's polarity
(1-2 stars negative, 4-5 positive, 3 left out), ROC AUC of its score against that polarity, and
throughput in reviews per second.

Usage (after `cargo build --release --bin ecomsql` and `ecomsql gen --out DIR`):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install vaderSentiment snownlp
    /tmp/venv/bin/python benches/compare/sentiment.py --ecomsql target/release/ecomsql --data DIR [--out FILE]

Thresholds: ecomsql's documented ones (>= 0.05 positive, <= -0.05 negative); VADER's documented
compound thresholds (the same numbers); SnowNLP has no neutral band, so >= 0.5 is positive and
anything else negative (which can only help its agreement). Generated reviews are the project's
own; they are not an independent judge of quality (see issue #6), only a like-for-like check.
"""
import argparse, json, os, subprocess, tempfile, time

from rank_auc import auc


def ecomsql(binary, data, sql, fmt="json"):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql)
        path = f.name
    try:
        t0 = time.perf_counter()
        out = subprocess.run([binary, "--data", data, "--format", fmt, "sql", "-f", path],
                             check=True, capture_output=True, text=True).stdout
        return out, time.perf_counter() - t0
    finally:
        os.unlink(path)


def agreement(labels, ratings):
    ok = sum(1 for l, r in zip(labels, ratings)
             if (r <= 2 and l == "negative") or (r >= 4 and l == "positive"))
    return ok / len(ratings)


def label_compound(s, pos=0.05, neg=-0.05):
    return "positive" if s >= pos else "negative" if s <= neg else "neutral"


def throughput_ecomsql(binary, data, language, copies, runs):
    """reviews/s of sentiment() over `copies` copies of the reviews of one language, net of
    the same query without it (reading, cross join and summing lengths)."""
    rows_sql = (f"FROM reviews CROSS JOIN (SELECT unnest(range({copies})) AS k) "
                f"WHERE language = '{language}'")
    n = int(json.loads(ecomsql(binary, data, f"SELECT count(*) AS n {rows_sql}")[0])[0]["n"])
    best = float("inf")
    base = float("inf")
    for _ in range(runs):
        best = min(best, ecomsql(binary, data, f"SELECT sum(sentiment(review_text)) AS s {rows_sql}")[1])
        base = min(base, ecomsql(binary, data, f"SELECT sum(length(review_text)) AS s {rows_sql}")[1])
    return n, n / best, n / max(best - base, 1e-9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ecomsql", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--copies", type=int, default=100, help="copies of the reviews for ecomsql's timing")
    ap.add_argument("--snownlp-sample", type=int, default=2000)
    ap.add_argument("--out", help="append the tables, as Markdown, to this file")
    args = ap.parse_args()
    lines = []

    out, _ = ecomsql(args.ecomsql, args.data,
                     "SELECT rating, language, review_text, sentiment(review_text) AS s, "
                     "sentiment_label(review_text) AS l FROM reviews WHERE rating <> 3 ORDER BY review_id")
    rows = json.loads(out)
    en = [r for r in rows if r["language"] == "en"]
    zh = [r for r in rows if r["language"] == "zh"]
    mean_len = lambda rs: sum(len(r["review_text"]) for r in rs) / len(rs)
    lines += ["## Sentiment: ecomsql vs VADER and SnowNLP", "",
              f"Generated reviews in {args.data}: {len(en):,} English ({mean_len(en):.0f} characters "
              f"on average) and {len(zh):,} Chinese ({mean_len(zh):.0f} characters), ratings 1-2 and "
              "4-5. The reviews are the project's own (a like-for-like check, not an independent "
              "judge: see RESULTS-sentiment.md for real labelled sets). Throughput: best of "
              f"{args.runs}; ecomsql scores {args.copies} copies of the reviews on all cores, the "
              "Python scorers run on one."]

    results = []
    for lang, rs in (("en", en), ("zh", zh)):
        ratings = [r["rating"] for r in rs]
        polar = [r["rating"] >= 4 for r in rs]
        results.append((f"ecomsql sentiment ({lang})", agreement([r["l"] for r in rs], ratings),
                        auc([r["s"] for r in rs], polar)))

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    vader = SentimentIntensityAnalyzer()
    texts = [r["review_text"] for r in en]
    t0 = time.perf_counter()
    compound = [vader.polarity_scores(t)["compound"] for t in texts]
    vader_rate = len(texts) / (time.perf_counter() - t0)
    results.append(("VADER (en)", agreement([label_compound(c) for c in compound], [r["rating"] for r in en]),
                    auc(compound, [r["rating"] >= 4 for r in en])))

    from snownlp import SnowNLP
    sample = zh[: args.snownlp_sample]
    t0 = time.perf_counter()
    snow = [SnowNLP(r["review_text"]).sentiments for r in sample]
    snow_rate = len(sample) / (time.perf_counter() - t0)
    results.append((f"SnowNLP (zh, first {len(sample)})",
                    agreement(["positive" if p >= 0.5 else "negative" for p in snow], [r["rating"] for r in sample]),
                    auc(snow, [r["rating"] >= 4 for r in sample])))
    ours_on_sample = agreement([r["l"] for r in sample], [r["rating"] for r in sample])
    results.append((f"ecomsql sentiment (zh, same {len(sample)})", ours_on_sample,
                    auc([r["s"] for r in sample], [r["rating"] >= 4 for r in sample])))

    lines += ["", "| scorer | agreement with rating polarity | ROC AUC |", "|---|---|---|"]
    lines += [f"| {name} | {a * 100:.1f}% | {u:.3f} |" for name, a, u in results]

    n_en, gross_en, net_en = throughput_ecomsql(args.ecomsql, args.data, "en", args.copies, args.runs)
    n_zh, gross_zh, net_zh = throughput_ecomsql(args.ecomsql, args.data, "zh", args.copies, args.runs)
    lines += [
        "", "| scorer | reviews/s | vs VADER |", "|---|---|---|",
        f"| VADER (Python, 1 core), English | {vader_rate:,.0f} | 1.0× |",
        f"| ecomsql sentiment(), English, {n_en:,} rows, whole query | {gross_en:,.0f} | {gross_en / vader_rate:.0f}× |",
        f"| ecomsql sentiment(), English, net of reading the rows | {net_en:,.0f} | {net_en / vader_rate:.0f}× |",
        f"| SnowNLP (Python, 1 core), Chinese | {snow_rate:,.0f} | |",
        f"| ecomsql sentiment(), Chinese, {n_zh:,} rows, whole query | {gross_zh:,.0f} | {gross_zh / snow_rate:.0f}× SnowNLP |",
        f"| ecomsql sentiment(), Chinese, net of reading the rows | {net_zh:,.0f} | {net_zh / snow_rate:.0f}× SnowNLP |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n" + text)

if __name__ == "__main__":
    main()
