"""The boosted-tree kernel (udfs/src/propensity/boosted_tree.rs) against scikit-learn's
HistGradientBoostingClassifier on the same generated data and the same options: training time,
held-out ROC AUC, log loss and Brier score, prediction speed.

This script makes the data (column-major little-endian f64 files plus a meta.json), trains
scikit-learn, then runs the kernel's ignored test `compare_with_sklearn_data`, which reads the
same files and writes ours.json; finally both are printed side by side.

    python3 benches/compare/gbt_kernel.py [--rows 1000000] [--threads 2] [--dir /tmp/gbt-compare]

Needs numpy and scikit-learn (`pip install scikit-learn numpy`).
"""
import argparse, json, os, subprocess, time

import numpy as np

FEATURES = 10
CATEGORICAL = [7]  # category codes 0..19


def make(n, rng):
    x = rng.normal(size=(n, FEATURES))
    x[:, 6] = rng.uniform(-1, 1, n)
    x[rng.uniform(size=n) < 0.1, 6] = np.nan
    x[:, 7] = rng.integers(0, 20, n)
    cat_effect = np.linspace(-1.0, 1.0, 20)[np.random.default_rng(7).permutation(20)]
    logit = (
        1.5 * np.sin(2 * x[:, 0])
        + x[:, 1] * x[:, 2]
        + 1.0 * (x[:, 3] > 0.5)
        - 0.5 * x[:, 4] ** 2
        + 0.3 * x[:, 5]
        + np.where(np.isnan(x[:, 6]), 1.0, x[:, 6])
        + cat_effect[x[:, 7].astype(int)]
        - 0.3
    )
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return x, y


def write(path, x, y):
    np.asfortranarray(x).T.astype("<f8").tofile(path + "_x.f64")  # column after column
    y.astype(np.uint8).tofile(path + "_y.u8")


def metrics(y, p):
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    return {"auc": roc_auc_score(y, p), "log_loss": log_loss(y, p), "brier": brier_score_loss(y, p)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--test-rows", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    ap.add_argument("--dir", default="/tmp/gbt-compare")
    ap.add_argument("--cargo-dir", default=os.path.join(os.path.dirname(__file__), "..", ".."),
                    help="where to run cargo for the kernel side")
    # Workspace-level, as every cargo command here: `-p ecomsql-udfs` resolves features
    # differently and rebuilds DataFusion from scratch.
    ap.add_argument("--cargo-args", default="--workspace --lib")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from sklearn.ensemble import HistGradientBoostingClassifier

    os.makedirs(args.dir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    xtr, ytr = make(args.rows, rng)
    xte, yte = make(args.test_rows, rng)
    write(os.path.join(args.dir, "train"), xtr, ytr)
    write(os.path.join(args.dir, "test"), xte, yte)
    meta = {"rows": args.rows, "test_rows": args.test_rows, "features": FEATURES,
            "categorical": CATEGORICAL, "threads": args.threads, "trees": args.trees}
    with open(os.path.join(args.dir, "meta.json"), "w") as f:
        json.dump(meta, f)

    # The kernel's options: depth-wise to 6 (no leaf cap), 20 rows per leaf, l2 1, no early stop.
    clf = HistGradientBoostingClassifier(
        max_iter=args.trees, max_depth=6, max_leaf_nodes=None, learning_rate=0.1,
        min_samples_leaf=20, l2_regularization=1.0, max_bins=255, early_stopping=False,
        categorical_features=CATEGORICAL, random_state=0)
    t = time.perf_counter()
    clf.fit(xtr, ytr)
    sk_train = time.perf_counter() - t
    p = clf.predict_proba(xte)[:, 1]
    t = time.perf_counter()
    clf.predict_proba(xtr)
    sk_predict = args.rows / (time.perf_counter() - t)
    sk = {"train_s": sk_train, "predict_rows_per_s": sk_predict, **metrics(yte, p)}

    env = dict(os.environ, GBT_COMPARE_DIR=os.path.abspath(args.dir))
    cmd = ["cargo", "test", "--release", *args.cargo_args.split(), "compare_with_sklearn_data",
           "--", "--ignored"]
    subprocess.run(cmd, cwd=args.cargo_dir, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(args.dir, "ours.json")) as f:
        ours = json.load(f)
    ours.update(metrics(yte, np.array(ours.pop("test_proba"))))

    print(f"{args.rows} rows x {FEATURES} features, {args.trees} trees, depth 6, {args.threads} threads")
    print(f"{'':24}{'ecomsql kernel':>16}{'scikit-learn':>16}")
    for key, fmt in [("train_s", "{:.2f}"), ("auc", "{:.4f}"), ("log_loss", "{:.4f}"),
                     ("brier", "{:.4f}"), ("predict_rows_per_s", "{:,.0f}")]:
        print(f"{key:24}{fmt.format(ours[key]):>16}{fmt.format(sk[key]):>16}")
    print(f"{'contributions_rows_per_s':24}{ours['contributions_rows_per_s']:>16,.0f}{'':>16}")


if __name__ == "__main__":
    main()
