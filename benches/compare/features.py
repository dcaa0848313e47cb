"""Feature workloads in ecomsql and DuckDB on the same Parquet files: results checked equal,
then median wall times compared. Called by run.sh; see there."""
import argparse, csv, os, platform, re, statistics, subprocess, tempfile, time

import duckdb

# name -> (ecomsql SQL, DuckDB SQL). Each returns a small result so output costs nothing.
WORKLOADS = {
    "rfm (group by user)": (
        """SELECT count(*), sum(purchases), round(sum(revenue), 2) FROM (
             SELECT user_id, count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
                    sum(price * quantity) FILTER (WHERE event_type = 'purchase') AS revenue
             FROM events GROUP BY user_id)""",
        None,  # same SQL
    ),
    "sessionize 30 min": (
        """SELECT count(*), sum(s) FROM (
             SELECT sessionize(ts, INTERVAL '30 minutes') OVER (PARTITION BY user_id ORDER BY ts) AS s
             FROM events)""",
        """SELECT count(*), sum(s) FROM (
             SELECT sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS s FROM (
               SELECT user_id, ts,
                      CASE WHEN lag(ts) OVER (PARTITION BY user_id ORDER BY ts) IS NULL
                             OR ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) > INTERVAL '30 minutes'
                           THEN 1 ELSE 0 END AS new_session
               FROM events))""",
    ),
    "funnel 4 steps, 1 day (10% of users)": (
        """SELECT depth, count(*) FROM (
             SELECT user_id, funnel(INTERVAL '1 day', ts, event_type = 'view', event_type = 'add_to_cart',
                                    event_type = 'begin_checkout', event_type = 'purchase') AS depth
             FROM events WHERE user_id % 10 = 0 GROUP BY user_id)
           GROUP BY depth ORDER BY depth""",
        """WITH e AS (SELECT user_id, ts, event_type FROM events WHERE user_id % 10 = 0),
             v AS (SELECT user_id, ts FROM e WHERE event_type = 'view'),
             c AS (SELECT user_id, ts FROM e WHERE event_type = 'add_to_cart'),
             k AS (SELECT user_id, ts FROM e WHERE event_type = 'begin_checkout'),
             p AS (SELECT user_id, ts FROM e WHERE event_type = 'purchase'),
             u AS (SELECT DISTINCT user_id FROM e),
             chains AS (
               SELECT v.user_id, max(CASE WHEN p.ts IS NOT NULL THEN 4 WHEN k.ts IS NOT NULL THEN 3
                                          WHEN c.ts IS NOT NULL THEN 2 ELSE 1 END) AS depth
               FROM v
               LEFT JOIN c ON c.user_id = v.user_id AND c.ts >= v.ts AND c.ts <= v.ts + INTERVAL '1 day'
               LEFT JOIN k ON k.user_id = v.user_id AND k.ts >= c.ts AND k.ts <= v.ts + INTERVAL '1 day'
               LEFT JOIN p ON p.user_id = v.user_id AND p.ts >= k.ts AND p.ts <= v.ts + INTERVAL '1 day'
               GROUP BY v.user_id)
           SELECT depth, count(*) FROM (SELECT u.user_id, coalesce(chains.depth, 0) AS depth
                                       FROM u LEFT JOIN chains USING (user_id))
           GROUP BY depth ORDER BY depth""",
    ),
}


def normalise(rows):
    return [tuple(str(round(float(v), 2)) if re.fullmatch(r"-?[0-9.e+]+", str(v)) else str(v) for v in r) for r in rows]


def run_ecomsql(binary, data, sql, runs):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\\timing\n" + (sql.strip() + ";\n") * (runs + 1))
        path = f.name
    out = subprocess.run([binary, "--data", data, "--format", "csv", "sql", "-f", path],
                         capture_output=True, text=True, check=True)
    os.unlink(path)
    times = [float(t) for t in re.findall(r"Time: ([0-9.]+)s", out.stderr)][1:]  # first is warm-up
    lines = [l for l in out.stdout.strip().splitlines() if not l.startswith("Timing is")]
    n = len(lines) // (runs + 1)  # each run prints a header and its rows
    rows = [tuple(r) for r in csv.reader(lines[1:n])]
    return times, normalise(rows)


def run_duckdb(con, sql, runs):
    con.sql(sql).fetchall()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rows = con.sql(sql).fetchall()
        times.append(time.perf_counter() - t)
    return times, normalise(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ecomsql", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out")
    a = ap.parse_args()
    con = duckdb.connect()
    con.sql(f"CREATE VIEW events AS SELECT * FROM read_parquet('{a.data}/events/*/*.parquet', hive_partitioning = true)")
    n_events = con.sql("SELECT count(*) FROM events").fetchall()[0][0]
    lines = [
        f"# ecomsql vs DuckDB {duckdb.__version__}: feature workloads",
        "",
        f"Data: `{a.data}` ({n_events:,} events). Machine: {os.cpu_count()} cores, {platform.platform()}.",
        f"Median of {a.runs} runs after one warm-up; both engines use all cores; results checked equal.",
        "",
        "| workload | ecomsql (s) | DuckDB (s) | ecomsql / DuckDB |",
        "|---|---|---|---|",
    ]
    for name, (ours, theirs) in WORKLOADS.items():
        t_ours, r_ours = run_ecomsql(a.ecomsql, a.data, ours, a.runs)
        t_duck, r_duck = run_duckdb(con, theirs or ours, a.runs)
        if r_ours != r_duck:
            raise SystemExit(f"{name}: results differ\n ecomsql: {r_ours}\n DuckDB:  {r_duck}")
        mo, md = statistics.median(t_ours), statistics.median(t_duck)
        lines.append(f"| {name} | {mo:.3f} | {md:.3f} | {mo / md:.2f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
