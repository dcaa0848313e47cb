#!/usr/bin/env bash
# Side by side: the same workloads in ecomsql and in DuckDB (features) and scikit-learn
# (k-means segments), on the same generated
# Parquet files. Usage: benches/compare/run.sh [--users N] [--days D] [--runs R]
# Builds the release binary, generates the data once into target/bench-data/, installs DuckDB
# and scikit-learn into a virtualenv under target/, checks the engines give the same answers, then prints (and
# writes to benches/compare/RESULTS.md) median times and ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=35000 DAYS=120 RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
TARGET=${CARGO_TARGET_DIR:-target}
DATA=target/bench-data/shop-${USERS}u-${DAYS}d
VENV=target/bench-venv
# Built together with the benches so both share one feature set (a bin-only build resolves
# features differently and rebuilds DataFusion from scratch).
cargo build --release --bin ecomsql --benches
BIN=$TARGET/release/ecomsql
if [ ! -f "$DATA/_truth/params.txt" ]; then
  "$BIN" gen --out "$DATA" --users "$USERS" --days "$DAYS" --force
fi
if ! "$VENV/bin/python" -c "import duckdb, sklearn, pyarrow" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet duckdb scikit-learn pyarrow pandas
fi
"$VENV/bin/python" benches/compare/features.py --data "$DATA" --ecomsql "$BIN" --runs "$RUNS" \
  --out benches/compare/RESULTS.md
"$VENV/bin/python" benches/compare/segments.py --data "$DATA" --ecomsql "$BIN" --runs "$RUNS" \
  --out benches/compare/RESULTS.md
