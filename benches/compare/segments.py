"""k-means customer segments in ecomsql and in scikit-learn on the same feature table: training
time, inertia (same standardisation, same k and n_init) and agreement with the planted personas
(adjusted Rand index against _truth). Called by run.sh; see there.

The feature table is built by ecomsql from the first statement of queries/customer_segments.sql
and exported to Parquet, so both tools fit exactly the same numbers."""
import argparse, os, re, statistics, subprocess, tempfile, time

import numpy as np
import pyarrow.parquet as pq
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

FEATURES = ["log_views", "log_searches", "cart_rate", "log_orders", "avg_order_value",
            "coupon_share", "active_days", "recency_days", "tenure_days"]


def ecomsql(binary, data, state, sql):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\\timing\n" + sql)
        path = f.name
    out = subprocess.run([binary, "--data", data, "--state-dir", state, "--format", "csv",
                          "sql", "-f", path], capture_output=True, text=True)
    os.unlink(path)
    if out.returncode != 0:
        raise SystemExit(f"ecomsql failed:\n{out.stderr}")
    return out.stdout, [float(t) for t in re.findall(r"Time: ([0-9.]+)s", out.stderr)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ecomsql", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--n-init", type=int, default=4)
    ap.add_argument("--out")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ecomsql-segments-")
    state = os.path.join(work, "state")
    view = open("queries/customer_segments.sql").read().split(";")[0]
    feats = os.path.join(work, "features.parquet")
    ecomsql(a.ecomsql, a.data, state, f"{view};\nCOPY (SELECT * FROM user_features) TO '{feats}';\n")

    cols = ", ".join(FEATURES)
    create = (f"CREATE OR REPLACE MODEL seg OPTIONS (model_type = 'kmeans', num_clusters = {a.k}, "
              f"n_init = {a.n_init}, seed = 42) AS SELECT {cols} FROM f;\n")
    assign = os.path.join(work, "ours.parquet")
    sql = (f"CREATE EXTERNAL TABLE f STORED AS PARQUET LOCATION '{feats}';\n" + create * (a.runs + 1)
           + f"COPY (SELECT user_id, segment('seg', {cols}) AS s FROM f) TO '{assign}';\n"
           + "SELECT CAST(value AS DOUBLE) FROM ml_model_info('seg') WHERE section = 'metric' AND key = 'inertia';\n")
    out, times = ecomsql(a.ecomsql, a.data, state, sql)
    t_ours = statistics.median(times[2:2 + a.runs])  # [0] external table, [1] warm-up fit
    inertia_ours = float(out.strip().splitlines()[-1])

    table = pq.read_table(feats).to_pandas()
    x = table[FEATURES].to_numpy(dtype=float)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    km = KMeans(n_clusters=a.k, n_init=a.n_init, random_state=0)
    km.fit(x)  # warm-up
    t = []
    for _ in range(a.runs):
        s = time.perf_counter()
        km = KMeans(n_clusters=a.k, n_init=a.n_init, random_state=0).fit(x)
        t.append(time.perf_counter() - s)
    t_sk = statistics.median(t)

    truth = pq.read_table(os.path.join(a.data, "_truth", "users.parquet")).to_pandas()[["user_id", "persona"]]
    ours = pq.read_table(assign).to_pandas()
    joined = table[["user_id"]].assign(sk=km.labels_).merge(ours, on="user_id").merge(truth, on="user_id")
    ari_ours = adjusted_rand_score(joined["persona"], joined["s"])
    ari_sk = adjusted_rand_score(joined["persona"], joined["sk"])

    import sklearn
    lines = [
        f"## k-means segments: ecomsql vs scikit-learn {sklearn.__version__}",
        "",
        f"{len(x):,} users × {len(FEATURES)} behavioural features (queries/customer_segments.sql), standardised, "
        f"k = {a.k}, n_init = {a.n_init}, k-means++; median of {a.runs} fits after a warm-up. ARI: adjusted Rand "
        "index of the segments against the planted personas (_truth).",
        "",
        "| | ecomsql | scikit-learn | ecomsql / scikit-learn |",
        "|---|---|---|---|",
        f"| training time (s) | {t_ours:.3f} | {t_sk:.3f} | {t_ours / t_sk:.2f}× |",
        f"| inertia | {inertia_ours:.1f} | {km.inertia_:.1f} | {inertia_ours / km.inertia_:.4f} |",
        f"| ARI vs personas | {ari_ours:.3f} | {ari_sk:.3f} | |",
        "",
        "ecomsql's time includes reading the feature table through DataFusion; scikit-learn's is the fit alone.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
