"""Feature workloads in ecomsql and DuckDB on the same Parquet files (and the RFM table in pandas,
as a notebook would compute it): results checked equal, then median wall times and peak memory
compared. Each engine runs in its own process, so peak memory (maximum resident set) is that
workload's. Called by run.sh; see there.

    python3 benches/compare/features.py --data DIR --ecomsql BIN [--runs 5] [--out FILE] [--only rfm]
"""
import argparse, csv, json, math, os, re, shutil, statistics, subprocess, sys, tempfile, time

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
    "weekly cohort retention, 5 weeks": (
        """SELECT cohort, count(*), sum(CASE WHEN r[1] THEN 1 ELSE 0 END),
                  sum(CASE WHEN r[2] THEN 1 ELSE 0 END), sum(CASE WHEN r[3] THEN 1 ELSE 0 END),
                  sum(CASE WHEN r[4] THEN 1 ELSE 0 END), sum(CASE WHEN r[5] THEN 1 ELSE 0 END)
           FROM (SELECT u.user_id, CAST(date_trunc('week', u.signup_ts) AS DATE) AS cohort,
                        retention(
                          e.ts <  u.signup_ts + INTERVAL '7 days',
                          e.ts >= u.signup_ts + INTERVAL '7 days'  AND e.ts < u.signup_ts + INTERVAL '14 days',
                          e.ts >= u.signup_ts + INTERVAL '14 days' AND e.ts < u.signup_ts + INTERVAL '21 days',
                          e.ts >= u.signup_ts + INTERVAL '21 days' AND e.ts < u.signup_ts + INTERVAL '28 days',
                          e.ts >= u.signup_ts + INTERVAL '28 days' AND e.ts < u.signup_ts + INTERVAL '35 days') AS r
                 FROM users u JOIN events e USING (user_id)
                 GROUP BY u.user_id, CAST(date_trunc('week', u.signup_ts) AS DATE))
           GROUP BY cohort ORDER BY cohort""",
        # retention(c1, …): element 1 is "c1 happened", element i is "c1 and ci happened".
        """SELECT cohort, count(*), sum(CASE WHEN a0 THEN 1 ELSE 0 END),
                  sum(CASE WHEN a0 AND a1 THEN 1 ELSE 0 END), sum(CASE WHEN a0 AND a2 THEN 1 ELSE 0 END),
                  sum(CASE WHEN a0 AND a3 THEN 1 ELSE 0 END), sum(CASE WHEN a0 AND a4 THEN 1 ELSE 0 END)
           FROM (SELECT u.user_id, CAST(date_trunc('week', u.signup_ts) AS DATE) AS cohort,
                        bool_or(e.ts <  u.signup_ts + INTERVAL '7 days') AS a0,
                        bool_or(e.ts >= u.signup_ts + INTERVAL '7 days'  AND e.ts < u.signup_ts + INTERVAL '14 days') AS a1,
                        bool_or(e.ts >= u.signup_ts + INTERVAL '14 days' AND e.ts < u.signup_ts + INTERVAL '21 days') AS a2,
                        bool_or(e.ts >= u.signup_ts + INTERVAL '21 days' AND e.ts < u.signup_ts + INTERVAL '28 days') AS a3,
                        bool_or(e.ts >= u.signup_ts + INTERVAL '28 days' AND e.ts < u.signup_ts + INTERVAL '35 days') AS a4
                 FROM users u JOIN events e USING (user_id)
                 GROUP BY u.user_id, CAST(date_trunc('week', u.signup_ts) AS DATE))
           GROUP BY cohort ORDER BY cohort""",
    ),
}

# The RFM workload in pandas, as a data scientist writes it in a notebook.
PANDAS_RFM = """
ev = pd.read_parquet(os.path.join(DATA, "events"), columns=["user_id", "event_type", "price", "quantity"])
bought = ev[ev["event_type"] == "purchase"].assign(revenue=lambda d: d["price"] * d["quantity"])
per_user = bought.groupby("user_id").agg(purchases=("revenue", "size"), revenue=("revenue", "sum"))
per_user = per_user.reindex(ev["user_id"].unique(), fill_value=0)
rows = [(len(per_user), int(per_user["purchases"].sum()), round(float(per_user["revenue"].sum()), 2))]
"""

# Peak memory per event of the runs that grow with the data, measured at 1M users (287.1M
# events, 2026-11-26). A run projected past what this machine holds is reported as not run
# instead of filling the disk with spill files or waking the kernel's OOM killer; at 5M users
# (1.45 billion events) that is sessionize and pandas.
PEAK_BYTES_PER_EVENT = {
    ("sessionize 30 min", "ecomsql"): 41,
    ("sessionize 30 min", "DuckDB"): 29,
    ("rfm (group by user)", "pandas"): 69,
}
SPILL_DISK_MARGIN = 5 << 30  # left free on the temporary files' disk


def too_big(name, engine, n_events):
    """Why `engine` cannot run workload `name` on `n_events` here, or None when it can.

    The SQL engines spill sorts to the temporary files' disk, so they have the memory plus that
    disk's free space (less a margin); pandas has only the memory."""
    per_event = PEAK_BYTES_PER_EVENT.get((name, engine))
    if per_event is None:
        return None
    need = per_event * n_events
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if engine == "pandas":
        room, where = memory, "memory"
    else:
        disk = shutil.disk_usage(tempfile.gettempdir()).free
        room, where = memory + disk - SPILL_DISK_MARGIN, f"memory plus free disk in {tempfile.gettempdir()}"
    if need <= room:
        return None
    return (f"not run: {engine} projected to need {need / 2**30:.0f} GiB ({per_event} B/event, measured "
            f"at 287M events), {where} is {room / 2**30:.0f} GiB")


def measured(cmd):
    """Runs `cmd`; returns (stdout, stderr, peak resident memory of that process in MiB).

    GNU time measures it: its small process starts the command, so the figure is the
    command's own (a child forked from this Python process would start from its size)."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        p = subprocess.run(["/usr/bin/time", "-o", peak.name, "-f", "%M"] + cmd,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{os.path.basename(cmd[0])} failed (exit {p.returncode}):\n{p.stderr}")
        kib = int(peak.read().strip().splitlines()[-1])
    return p.stdout, p.stderr, kib / 1024


def worker(kind, data, code, runs):
    """Runs in a child process: one peer workload, warm-up then `runs` timed runs; prints JSON."""
    times, rows = [], None
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.sql(f"CREATE VIEW events AS SELECT * FROM read_parquet('{data}/events/*/*.parquet', hive_partitioning = true)")
        con.sql(f"CREATE VIEW users AS SELECT * FROM read_parquet('{data}/users/*.parquet')")
        for i in range(runs + 1):
            t = time.perf_counter()
            rows = con.sql(code).fetchall()
            times.append(time.perf_counter() - t)
    else:
        import pandas as pd

        for i in range(runs + 1):
            scope = {"pd": pd, "os": os, "DATA": data}
            t = time.perf_counter()
            exec(code, scope)
            times.append(time.perf_counter() - t)
            rows = scope["rows"]
    print(json.dumps({"times": times[1:], "rows": [[str(v) for v in r] for r in rows]}))


def run_peer(kind, data, code, runs):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(code)
        path = f.name
    stdout, _, mem = measured([sys.executable, __file__, "--worker", kind, "--data", data,
                               "--code", path, "--runs", str(runs)])
    os.unlink(path)
    res = json.loads(stdout)
    return res["times"], normalise(res["rows"]), mem


def same_rows(a, b):
    """Equal results: numbers to 1e-9 relative (sums of billions of floats differ in their last
    digits with the order of addition), everything else exactly."""
    def same(x, y):
        try:
            return math.isclose(float(x), float(y), rel_tol=1e-9)
        except ValueError:
            return x == y
    return len(a) == len(b) and all(
        len(r) == len(q) and all(same(x, y) for x, y in zip(r, q)) for r, q in zip(a, b))


def normalise(rows):
    return [tuple(str(round(float(v), 2)) if re.fullmatch(r"-?[0-9.e+]+", str(v)) else str(v) for v in r) for r in rows]


def run_ecomsql(binary, data, sql, runs):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\\timing\n" + (sql.strip() + ";\n") * (runs + 1))
        path = f.name
    stdout, stderr, mem = measured([binary, "--data", data, "--format", "csv", "sql", "-f", path])
    os.unlink(path)
    times = [float(t) for t in re.findall(r"Time: ([0-9.]+)s", stderr)][1:]  # first is warm-up
    lines = [l for l in stdout.strip().splitlines() if not l.startswith("Timing is")]
    n = len(lines) // (runs + 1)  # each run prints a header and its rows
    rows = [tuple(r) for r in csv.reader(lines[1:n])]
    return times, normalise(rows), mem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ecomsql")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", help="append the section to this file")
    ap.add_argument("--only", help="run only the workloads whose name contains this text")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--code", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.data, open(a.code).read(), a.runs)
    import duckdb, pandas

    n_events = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{a.data}/events/*/*.parquet')").fetchall()[0][0]
    size = f"{n_events / 1e6:.1f}M events"
    lines = [
        f"## SQL feature workloads: ecomsql vs DuckDB {duckdb.__version__} (and pandas {pandas.__version__})",
        "",
        f"Data: `{a.data}` ({n_events:,} events). Median of {a.runs} runs after one warm-up; every",
        "engine uses all cores and reads the same Parquet files each run; results checked equal.",
        "Peak memory: maximum resident set of the process that ran the workload (all runs).",
        "",
        "| workload | data | ecomsql (s) | peer | peer (s) | ecomsql / peer | ecomsql peak MiB | peer peak MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    peers = [(name, "DuckDB", "duckdb", theirs or ours, ours) for name, (ours, theirs) in WORKLOADS.items()]
    peers.insert(1, ("rfm (group by user)", "pandas", "pandas", PANDAS_RFM, WORKLOADS["rfm (group by user)"][0]))
    if a.only:
        peers = [p for p in peers if a.only in p[0]]
    ours_cache = {}
    for name, peer, kind, code, ours in peers:
        skip = too_big(name, "ecomsql", n_events) or too_big(name, peer, n_events)
        if skip:
            lines.append(f"| {name} | {size} | | {peer} | {skip} | | | |")
            print(lines[-1], flush=True)
            continue
        if name not in ours_cache:
            ours_cache[name] = run_ecomsql(a.ecomsql, a.data, ours, a.runs)
        t_ours, r_ours, m_ours = ours_cache[name]
        try:
            t_peer, r_peer, m_peer = run_peer(kind, a.data, code, a.runs)
        except SystemExit as e:
            # A peer that fails (pandas running out of memory at the largest scales) is a
            # result too: say so and go on with the other workloads.
            reason = str(e).strip().splitlines()[-1][:120] if str(e).strip() else "no message"
            lines.append(f"| {name} | {size} | {statistics.median(t_ours):.3f} | {peer} | failed: {reason} "
                         f"| | {m_ours:.0f} | |")
            print(lines[-1], flush=True)
            continue
        if not same_rows(r_ours, r_peer):
            raise SystemExit(f"{name}: results differ\n ecomsql: {r_ours}\n {peer}: {r_peer}")
        mo, mp = statistics.median(t_ours), statistics.median(t_peer)
        lines.append(f"| {name} | {size} | {mo:.3f} | {peer} | {mp:.3f} | {mo / mp:.2f}× "
                     f"| {m_ours:.0f} | {m_peer:.0f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
