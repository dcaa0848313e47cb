"""The propensity kernels against scikit-learn on the same 1,000,000 rows x 10 features:
LogisticRegression (lbfgs) and HistGradientBoostingClassifier (100 trees, depth 6): training
time, held-out ROC AUC, log loss and Brier score, and scoring speed.

The rows come from `benches/propensity.rs` (criterion) run with PROPENSITY_EXPORT=<dir>: it
writes the training and held-out rows and our own fits' median time and held-out quality
(ours.json). This script trains scikit-learn on the same rows with the same settings and prints
both side by side (and appends the table to --out if given).

    PROPENSITY_EXPORT=/tmp/prop cargo bench --bench propensity
    python3 benches/compare/propensity_kernel.py --dir /tmp/prop [--runs 3] [--out FILE]

Needs numpy and scikit-learn.
"""
import argparse, json, os, platform, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    ours = json.load(open(os.path.join(args.dir, "ours.json")))
    threads = ours["threads"]
    # Same thread count as ours, set before numpy and scikit-learn start their pools.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import numpy as np
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    nf = ours["features"]

    def read(name, rows):
        x = np.fromfile(os.path.join(args.dir, f"{name}_x.f64"), dtype="<f8")
        x = x.reshape(nf, rows).T.copy()  # written column after column
        y = np.fromfile(os.path.join(args.dir, f"{name}_y.u8"), dtype=np.uint8).astype(bool)
        return x, y

    def quality(y, p):
        return roc_auc_score(y, p), log_loss(y, p), brier_score_loss(y, p)

    def median_time(fit):
        times, model = [], None
        for _ in range(args.runs):
            t = time.perf_counter()
            model = fit()
            times.append(time.perf_counter() - t)
        times.sort()
        return times[len(times) // 2], model

    rows = []
    for kind in ["logistic", "trees"]:
        xtr, ytr = read(f"{kind}_train", ours["rows"])
        xte, yte = read(f"{kind}_test", ours["test_rows"])
        if kind == "logistic":
            make = lambda: LogisticRegression(C=1.0, tol=1e-4, max_iter=100, solver="lbfgs")
            label = "logistic_reg vs LogisticRegression(lbfgs)"
        else:
            cat = np.zeros(nf, dtype=bool)
            cat[ours["categorical"]] = True
            make = lambda: HistGradientBoostingClassifier(
                max_iter=100, max_depth=6, max_leaf_nodes=None, learning_rate=0.1,
                min_samples_leaf=20, l2_regularization=1.0, max_bins=255,
                early_stopping=False, categorical_features=cat, random_state=0)
            label = "boosted_tree vs HistGradientBoosting"
        seconds, model = median_time(lambda: make().fit(xtr, ytr))
        t = time.perf_counter()
        p = model.predict_proba(xte)[:, 1]
        score_rate = len(yte) / (time.perf_counter() - t)
        auc, ll, brier = quality(yte, p)
        o = ours[kind]
        rows.append((label, o["seconds"], seconds, o["auc"], auc, o["brier"], brier,
                     o["log_loss"], ll, score_rate))

    header = ("| model | ecomsql train s | sklearn train s | ratio | AUC ours | AUC sklearn "
              "| Brier ours | Brier sklearn | log loss ours | log loss sklearn "
              "| sklearn scoring rows/s |")
    lines = [
        f"### Propensity kernels, {ours['rows']:,} rows x {nf} features, {threads} threads "
        f"({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, scikit-learn {sklearn.__version__}, median of {args.runs})",
        "",
        header,
        "|" + "---|" * 11,
    ]
    for r in rows:
        lines.append(
            f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[1] / r[2]:.2f}x | {r[3]:.4f} | {r[4]:.4f} "
            f"| {r[5]:.4f} | {r[6]:.4f} | {r[7]:.4f} | {r[8]:.4f} | {r[9]:,.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
