//! Flight SQL server under load, on loopback, against the same work in-process.
//!
//! Data size: a generated shop of 20,000 users × 30 days (`ECOMSQL_BENCH_USERS` /
//! `ECOMSQL_BENCH_DAYS` change it). 32 concurrent clients each run 25 small queries (a point
//! count, a group-by, a prepared statement with a parameter, a metadata call) — 800 in all,
//! stopped early after 120 s — then one client fetches every row of `events`. The same queries
//! run in-process through the statement layer with 32 concurrent tasks.
//! Reports queries/s and p50/p99 latency for the small queries and MB/s on the wire (IPC bytes) and rows/s for the large result. Bounded in count and time; loopback only.
//! Run: `cargo bench --bench flight` (release; a debug build measures the debug engine).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_flight::sql::CommandGetTables;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
use datafusion::prelude::SessionContext;
use ecomsql::config::FlightLayer;
use ecomsql::generator::{GenOptions, generate};
use futures::TryStreamExt;
use tonic::transport::Channel;

const CLIENTS: usize = 32;
const PER_CLIENT: usize = 25;
const BUDGET: Duration = Duration::from_secs(120);

const SMALL: [&str; 2] = [
    "SELECT count(*) FROM users WHERE country = 'DE'",
    "SELECT event_type, count(*) FROM events GROUP BY event_type",
];
const PREPARED: &str = "SELECT count(*) FROM orders WHERE total_amount > $1";
const LARGE: &str = "SELECT * FROM events";

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Stats {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Stats {
    fn line(&mut self, label: &str) -> String {
        self.latencies.sort();
        let n = self.latencies.len();
        let at = |q: f64| self.latencies[((n as f64 * q) as usize).min(n - 1)];
        format!(
            "{label:<12} {n:>5} queries  {:>8.1} q/s  p50 {:>7.1} ms  p99 {:>7.1} ms",
            n as f64 / self.wall.as_secs_f64(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3
        )
    }
}

fn param(i: usize) -> RecordBatch {
    RecordBatch::try_from_iter([(
        "$1",
        Arc::new(Int64Array::from(vec![(i % 200) as i64])) as Arc<dyn Array>,
    )])
    .expect("param batch")
}

async fn flight_client(addr: std::net::SocketAddr) -> FlightSqlServiceClient<Channel> {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    FlightSqlServiceClient::new(ch)
}

/// Fetches every endpoint; returns the number of rows.
async fn fetch_all(
    c: &mut FlightSqlServiceClient<Channel>,
    info: arrow_flight::FlightInfo,
) -> usize {
    let mut rows = 0;
    for ep in info.endpoint {
        let s = c.do_get(ep.ticket.expect("ticket")).await.expect("do_get");
        let batches: Vec<RecordBatch> = s.try_collect().await.expect("batches");
        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    rows
}

async fn over_flight(addr: std::net::SocketAddr) -> Stats {
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..CLIENTS {
        tasks.push(tokio::spawn(async move {
            let mut c = flight_client(addr).await;
            let mut prepared = c.prepare(PREPARED.into(), None).await.expect("prepare");
            let mut lat = vec![];
            for i in 0..PER_CLIENT {
                if start.elapsed() > BUDGET {
                    break;
                }
                let t = Instant::now();
                match i % 4 {
                    0 | 1 => {
                        let info = c.execute(SMALL[i % 2].into(), None).await.expect("query");
                        fetch_all(&mut c, info).await;
                    }
                    2 => {
                        prepared.set_parameters(param(i)).expect("bind");
                        let info = prepared.execute().await.expect("execute");
                        fetch_all(&mut c, info).await;
                    }
                    _ => {
                        let info = c
                            .get_tables(CommandGetTables::default())
                            .await
                            .expect("tables");
                        fetch_all(&mut c, info).await;
                    }
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut latencies = vec![];
    for t in tasks {
        latencies.extend(t.await.expect("client"));
    }
    Stats {
        latencies,
        wall: start.elapsed(),
    }
}

async fn in_process(ctx: &SessionContext) -> Stats {
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..CLIENTS {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            for i in 0..PER_CLIENT {
                if start.elapsed() > BUDGET {
                    break;
                }
                let t = Instant::now();
                let sql = match i % 4 {
                    0 | 1 => SMALL[i % 2].to_string(),
                    2 => PREPARED.replace("$1", &((i % 200) as i64).to_string()),
                    _ => "SELECT * FROM information_schema.tables".to_string(),
                };
                ecomsql::statements::run_to_batches(&ctx, &sql)
                    .await
                    .expect("query");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut latencies = vec![];
    for t in tasks {
        latencies.extend(t.await.expect("task"));
    }
    Stats {
        latencies,
        wall: start.elapsed(),
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: then only check
    // that the bench builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let users = env_num("ECOMSQL_BENCH_USERS", 20_000);
    let days = env_num("ECOMSQL_BENCH_DAYS", 30) as u32;
    let dir = tempfile::tempdir().expect("temp dir");
    let shop = dir.path().join("shop");
    let summary = generate(&GenOptions {
        users,
        days,
        force: true,
        progress: false,
        ..GenOptions::sample(shop.clone())
    })
    .expect("generate");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let config = ecomsql::Config {
            data_dir: Some(shop.clone()),
            state_dir: dir.path().join("state"),
            flight: FlightLayer {
                max_running_queries: Some(CLIENTS),
                ..Default::default()
            }
            .check()
            .expect("flight config"),
            ..ecomsql::Config::default()
        };
        let (ctx, _) = ecomsql::open(&config).await.expect("open");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = ecomsql::flight::Server::new(ctx.clone(), &config.flight).expect("server");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));

        println!(
            "flight bench: {users} users x {days} days, {} events; {CLIENTS} clients x {PER_CLIENT} queries",
            summary.events
        );
        let mut f = over_flight(addr).await;
        let mut p = in_process(&ctx).await;
        println!("{}", f.line("flight"));
        println!("{}", p.line("in-process"));

        let mut c = flight_client(addr).await;
        let t = Instant::now();
        let info = c.execute(LARGE.into(), None).await.expect("large");
        // Bytes on the wire (IPC headers and bodies), read as raw FlightData, then decoded.
        let (mut bytes, mut rows) = (0usize, 0usize);
        for ep in info.endpoint {
            let ticket = ep.ticket.expect("ticket");
            let raw = c.inner_mut().do_get(ticket).await.expect("do_get").into_inner();
            let raw: Vec<arrow_flight::FlightData> = raw.try_collect().await.expect("data");
            bytes += raw.iter().map(|d| d.data_header.len() + d.data_body.len()).sum::<usize>();
            let decoded: Vec<RecordBatch> = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
                futures::stream::iter(raw.into_iter().map(Ok)),
            )
            .try_collect()
            .await
            .expect("decode");
            rows += decoded.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        let flight_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (_, batches) = ecomsql::statements::run_to_batches(&ctx, LARGE)
            .await
            .expect("large in-process");
        let local_s = t.elapsed().as_secs_f64();
        let local_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, local_rows, "every row over Flight");
        println!(
            "large result ({LARGE}, {rows} rows): flight {:.1} MB/s on the wire ({:.0} MB in {flight_s:.2} s, {:.2}M rows/s), in-process {local_s:.2} s ({:.2}M rows/s)",
            bytes as f64 / 1e6 / flight_s,
            bytes as f64 / 1e6,
            rows as f64 / 1e6 / flight_s,
            local_rows as f64 / 1e6 / local_s,
        );
        let _ = stop.send(());
        served.await.expect("server task").expect("server");
    });
}
