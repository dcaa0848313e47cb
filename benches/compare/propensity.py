"""Propensity models on shop features: ecomsql's logistic_reg and boosted_tree against
scikit-learn's LogisticRegression and HistGradientBoostingClassifier, on the same feature table
and the same train / held-out split: held-out ROC AUC and Brier score, and training time.

Two tasks, each defined by a query file (the feature view it creates is the table compared):
- purchase: queries/purchase_propensity.sql -> purchase_features, label `bought` (buys in the
  14 days after a cutoff);
- churn: queries/churn_model.sql -> churn_features, label `churned` (no order in the 30 days
  after a cutoff).
ecomsql exports the view to Parquet (COPY), trains both model types on the rows where
`held_out` is false, and evaluates on the rest with ml_evaluate; scikit-learn reads the Parquet
file and does the same with equivalent settings:
- logistic: numeric features standardised, NULLs imputed with the training mean, strings
  one-hot encoded, L2 penalty 1 (C = 1), lbfgs, tolerance 1e-4;
- trees: 200 trees of depth 4, learning rate 0.1, 20 rows per leaf, L2 1, early stopping on a
  10% validation part after 10 rounds without improvement, missing values and the channel
  (categorical) handled natively.

    python3 benches/compare/propensity.py --data DIR --ecomsql target/release/ecomsql [--runs 3]
"""
import argparse, csv, io, os, subprocess, tempfile, time

TASKS = {
    "purchase": ("queries/purchase_propensity.sql", "purchase_features", "bought",
                 ["views", "searches", "carts", "checkouts", "purchases", "active_days",
                  "days_since_last_event", "avg_order_value", "acquisition_channel"]),
    "churn": ("queries/churn_model.sql", "churn_features", "churned",
              ["orders", "revenue", "avg_order_value", "coupon_share", "days_since_last_order",
               "days_since_first_order", "events_last_14d", "events_before",
               "acquisition_channel"]),
}
CATEGORICAL = {"acquisition_channel"}
OPTIONS = {
    "logistic_reg": "l2 = 1",
    "boosted_tree": ("num_trees = 200, max_depth = 4, learning_rate = 0.1, min_rows_per_leaf = 20, "
                     "early_stop = true"),
}


def results(stdout):
    """Splits CSV output of several statements into {first header cell: (header, rows)}."""
    out, current = {}, None
    known = {"model", "task_model"}
    for row in csv.reader(io.StringIO(stdout)):
        if row and row[0] in known:
            current = row[0]
            out.setdefault(current, (row, []))
        elif current is not None:
            out[current][1].append(row)
    return out


def ecomsql_side(args, task, workdir):
    path, view, label, features = TASKS[task]
    parquet = os.path.join(workdir, f"{task}.parquet")
    body = open(path).read()
    cols = ", ".join(features)
    script = [body, f"COPY (SELECT * FROM {view}) TO '{parquet}' STORED AS PARQUET;"]
    for model_type, opts in OPTIONS.items():
        name = f"cmp_{task}_{model_type}"
        script.append(
            f"CREATE OR REPLACE MODEL {name} OPTIONS (model_type = '{model_type}', "
            f"label = '{label}', data_split = 'column', data_split_column = 'held_out', {opts}) "
            f"AS SELECT {cols}, {label}, held_out FROM {view};")
    evals = " UNION ALL ".join(
        f"SELECT '{m}' AS task_model, roc_auc, brier, log_loss, rows "
        f"FROM ml_evaluate('cmp_{task}_{m}', 'SELECT * FROM {view} WHERE held_out')"
        for m in OPTIONS)
    script.append(evals + ";")
    file = os.path.join(workdir, f"{task}.sql")
    with open(file, "w") as f:
        f.write("\n".join(script))
    seconds = {m: [] for m in OPTIONS}
    quality = {}
    for _ in range(args.runs):
        state = tempfile.mkdtemp(dir=workdir)
        run = subprocess.run([args.ecomsql, "--data", args.data, "--state-dir", state,
                              "--format", "csv", "sql", "-f", file],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"ecomsql failed on {task}: {run.stderr}")
        res = results(run.stdout)
        header, rows = res["model"]
        for r in rows:
            rec = dict(zip(header, r))
            for m in OPTIONS:
                if rec["model"] == f"cmp_{task}_{m}":
                    seconds[m].append(float(rec["training_seconds"]))
        header, rows = res["task_model"]
        for r in rows:
            rec = dict(zip(header, r))
            quality[rec["task_model"]] = {k: float(rec[k]) for k in ("roc_auc", "brier", "rows")}
    med = {m: sorted(v)[len(v) // 2] for m, v in seconds.items()}
    return parquet, med, quality


def sklearn_side(args, task, parquet):
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    _, _, label, features = TASKS[task]
    df = pd.read_parquet(parquet)
    train, test = df[~df["held_out"]], df[df["held_out"]]
    numeric = [f for f in features if f not in CATEGORICAL]
    cats = [f for f in features if f in CATEGORICAL]

    def logistic():
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats)])
        return make_pipeline(pre, LogisticRegression(C=1.0, tol=1e-4, max_iter=100))

    def trees():
        pre = ColumnTransformer([
            ("num", "passthrough", numeric),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
             cats)])
        is_cat = [False] * len(numeric) + [True] * len(cats)
        return make_pipeline(pre, HistGradientBoostingClassifier(
            max_iter=200, max_depth=4, max_leaf_nodes=None, learning_rate=0.1,
            min_samples_leaf=20, l2_regularization=1.0, early_stopping=True,
            validation_fraction=0.1, n_iter_no_change=10, scoring="loss",
            categorical_features=is_cat, random_state=0))

    out = {}
    for name, make in [("logistic_reg", logistic), ("boosted_tree", trees)]:
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            model = make().fit(train[features], train[label].astype(bool))
            times.append(time.perf_counter() - t)
        p = model.predict_proba(test[features])[:, 1]
        y = test[label].astype(bool)
        out[name] = {"seconds": sorted(times)[len(times) // 2], "roc_auc": roc_auc_score(y, p),
                     "brier": brier_score_loss(y, p), "train_rows": len(train),
                     "rows": len(test)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ecomsql", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import sklearn

    lines = [
        f"### Propensity on shop features ({os.path.basename(os.path.normpath(args.data))}, "
        f"{time.strftime('%Y-%m-%d')}, scikit-learn {sklearn.__version__}, "
        f"median training time of {args.runs})",
        "",
        "| task | model | train rows | held-out rows | ecomsql s | sklearn s | AUC ecomsql "
        "| AUC sklearn | AUC diff | Brier ecomsql | Brier sklearn |",
        "|" + "---|" * 11,
    ]
    worst = 0.0
    with tempfile.TemporaryDirectory() as workdir:
        for task in TASKS:
            parquet, ours_s, ours_q = ecomsql_side(args, task, workdir)
            theirs = sklearn_side(args, task, parquet)
            for m in OPTIONS:
                o, t = ours_q[m], theirs[m]
                diff = o["roc_auc"] - t["roc_auc"]
                worst = min(worst, diff)
                assert int(o["rows"]) == t["rows"], f"{task} {m}: held-out rows differ"
                lines.append(
                    f"| {task} | {m} | {t['train_rows']:,} | {t['rows']:,} | {ours_s[m]:.3f} "
                    f"| {t['seconds']:.3f} | {o['roc_auc']:.4f} | {t['roc_auc']:.4f} "
                    f"| {diff:+.4f} | {o['brier']:.4f} | {t['brier']:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    print(f"largest AUC shortfall against scikit-learn: {-worst:.4f} (bar: 0.005)")
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
