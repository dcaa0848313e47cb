"""The k-means kernel against scikit-learn on the same rows: fit time, iterations and inertia.

Usage:
  SEGMENT_EXPORT=/tmp/kmeans-cmp cargo bench --bench segment   # writes the rows and ours.json
  python benches/compare/kmeans_kernel.py --data /tmp/kmeans-cmp   # numpy, scikit-learn

Both fit 1M rows x 8 features (Gaussian blobs, see benches/segment.rs) with k = 8, k-means++,
n_init = 1, max_iter = 50, once per tolerance exported by the bench, with seeds 0 to 9: median
time, median iterations, mean and best inertia. scikit-learn uses all cores (OpenMP); ours uses 2
threads. The random streams differ, so single runs land in different local optima; the mean
inertia ratio says whether we find equally good clusterings on average, the best one whether we
reach the same optimum.
"""
import argparse, json, os, statistics, time

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info

ROWS, DIMS = 1_000_000, 8

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="the bench's SEGMENT_EXPORT directory")
parser.add_argument("--seeds", type=int, default=10)
args = parser.parse_args()

X = np.fromfile(os.path.join(args.data, "blobs_1M_8d.f64"), dtype="<f8").reshape(ROWS, DIMS)
ours = json.load(open(os.path.join(args.data, "ours.json")))
threads = {i["internal_api"]: i["num_threads"] for i in threadpool_info()}

print(f"scikit-learn, threads {threads}; rows {ROWS} x {DIMS}; seeds 0..{args.seeds - 1}")
print(f"{'tolerance':<10}{'ours s':>8}{'sklearn s':>11}{'speed-up':>10}{'ours it':>9}{'sk it':>7}"
      f"{'mean inertia ours/sk':>22}{'best inertia ours/sk':>22}")
for name, o in ours.items():
    times, iterations, inertias = [], [], []
    for seed in range(args.seeds):
        start = time.perf_counter()
        model = KMeans(n_clusters=8, n_init=1, max_iter=50, init="k-means++",
                       tol=o["tolerance"], random_state=seed).fit(X)
        times.append(time.perf_counter() - start)
        iterations.append(model.n_iter_)
        inertias.append(model.inertia_)
    sk = statistics.median(times)
    print(f"{name:<10}{o['seconds']:>8.3f}{sk:>11.3f}{sk / o['seconds']:>9.2f}x"
          f"{o['iterations']:>9}{int(statistics.median(iterations)):>7}"
          f"{o['mean_inertia'] / statistics.mean(inertias):>22.6f}"
          f"{o['best_inertia'] / min(inertias):>22.6f}")
    print(f"{'':<10}iterations per seed: ours {o['all_iterations']}, sklearn {iterations}")
    # Seeds where both ran all 50 iterations: the same work, so the fairest time comparison.
    full = [s for s in range(args.seeds) if o["all_iterations"][s] == 50 and iterations[s] == 50]
    for s in full:
        print(f"{'':<10}seed {s}, 50 iterations each: ours {o['all_seconds'][s]:.3f} s, "
              f"sklearn {times[s]:.3f} s, speed-up {times[s] / o['all_seconds'][s]:.2f}x")
