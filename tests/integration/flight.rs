//! The Flight SQL server end to end, through arrow-flight's own Flight SQL client over
//! 127.0.0.1:0: login, tokens, queries, prepared statements, metadata, roles, limits,
//! cancellation, many clients at once, TLS, shutdown. Nothing sleeps: tests wait on the
//! server's running-query count or on their requests.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    ActionCancelQueryRequest, ActionCancelQueryResult, Any, CommandGetDbSchemas, CommandGetTables,
    ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, FlightEndpoint,
    FlightInfo, Ticket, error::FlightError,
};
use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use ecomsql::config::{FlightConfig, FlightLayer};
use ecomsql::flight::Server;
use ecomsql::flight::auth::{ManualClock, User, hash_password};
use ecomsql::flight::roles::Role;
use futures::TryStreamExt;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::fixture::{scalar_i64, session, session_with_state, shop, temp_dir};

pub(crate) type Client = FlightSqlServiceClient<Channel>;

/// reader `rita`, analyst `ann`, admin `root`; each password is the name reversed.
fn users() -> Vec<User> {
    static USERS: OnceLock<Vec<User>> = OnceLock::new();
    USERS
        .get_or_init(|| {
            [
                ("rita", Role::Reader),
                ("ann", Role::Analyst),
                ("root", Role::Admin),
            ]
            .into_iter()
            .map(|(name, role)| {
                let pw: String = name.chars().rev().collect();
                User::new(name, &hash_password(&pw).unwrap(), role).unwrap()
            })
            .collect()
        })
        .clone()
}

fn password(user: &str) -> String {
    user.chars().rev().collect()
}

pub(crate) fn config(layer: FlightLayer) -> FlightConfig {
    let mut c = layer.check().expect("flight config");
    c.users = users();
    c
}

pub(crate) struct TestServer {
    addr: SocketAddr,
    running: watch::Receiver<usize>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), ecomsql::flight::ServeError>>,
}

impl TestServer {
    pub(crate) async fn start(
        ctx: datafusion::prelude::SessionContext,
        config: FlightConfig,
    ) -> Self {
        Self::start_with_clock(ctx, config, Arc::new(ManualClock::default())).await
    }

    async fn start_with_clock(
        ctx: datafusion::prelude::SessionContext,
        config: FlightConfig,
        clock: Arc<ManualClock>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::with_clock(ctx, &config, clock).expect("server");
        let running = server.running_queries();
        let (stop, stopped) = oneshot::channel();
        let done = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            running,
            stop: Some(stop),
            done,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("connect")
    }

    pub(crate) async fn login(&self, user: &str) -> Client {
        let mut c = FlightSqlServiceClient::new(self.channel().await);
        c.handshake(user, &password(user)).await.expect("login");
        c
    }

    /// Waits until no query runs (bounded, so a leak fails instead of hanging).
    async fn wait_idle(&mut self) {
        tokio::time::timeout(Duration::from_secs(60), self.running.wait_for(|n| *n == 0))
            .await
            .expect("queries still running after 60 s")
            .expect("server gone");
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().expect("server stopped cleanly");
    }
}

async fn fetch(client: &mut Client, info: FlightInfo) -> Result<Vec<RecordBatch>, FlightError> {
    let mut out = vec![];
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("ticket");
        let batches: Vec<RecordBatch> = client.do_get(ticket).await?.try_collect().await?;
        out.extend(batches);
    }
    Ok(out)
}

pub(crate) async fn sql(client: &mut Client, q: &str) -> Result<Vec<RecordBatch>, FlightError> {
    let info = client.execute(q.to_string(), None).await?;
    let advertised = info.clone().try_decode_schema()?;
    let batches = fetch(client, info).await?;
    for b in &batches {
        assert_eq!(
            b.schema().as_ref(),
            &advertised,
            "{q}: sent schema differs from advertised"
        );
    }
    Ok(batches)
}

pub(crate) fn int_at(batches: &[RecordBatch], col: usize) -> i64 {
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    let c = datafusion::arrow::compute::cast(
        b.column(col),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .unwrap();
    c.as_primitive::<Int64Type>().value(0)
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Whether a client error is a status with `code`.
pub(crate) fn is_code(e: &FlightError, code: tonic::Code) -> bool {
    match e {
        FlightError::Tonic(s) => s.code() == code,
        other => other.to_string().contains(&format!("{code:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_query_and_bad_requests() {
    let ctx = session(shop()).await;
    let expected = scalar_i64(&ctx, "SELECT count(*) FROM users WHERE age >= 30").await;
    let server = TestServer::start(ctx, config(FlightLayer::default())).await;

    // Bad password and unknown users are refused; without a token nothing runs.
    let mut anon = FlightSqlServiceClient::new(server.channel().await);
    let err = anon.handshake("rita", "wrong").await.unwrap_err();
    assert!(
        err.to_string().contains("invalid user name or password"),
        "{err}"
    );
    assert!(anon.handshake("nobody", "x").await.is_err());
    let err = anon.execute("SELECT 1".into(), None).await.unwrap_err();
    assert!(is_code(&err, tonic::Code::Unauthenticated), "{err}");
    anon.set_token("forged".into());
    assert!(anon.execute("SELECT 1".into(), None).await.is_err());

    let mut c = server.login("rita").await;
    let got = sql(&mut c, "SELECT count(*) AS n FROM users WHERE age >= 30")
        .await
        .unwrap();
    assert_eq!(int_at(&got, 0), expected);

    // Strings stored dictionary-encoded arrive as the advertised (hydrated) type; many rows
    // come in several batches.
    let got = sql(&mut c, "SELECT user_id, country, city_tier FROM users")
        .await
        .unwrap();
    assert_eq!(rows(&got), 2000);
    // Tables read strings as Utf8View; clients get plain Utf8 (ecomsql::plain_types).
    assert_eq!(got[0].schema().field(1).data_type(), &DataType::Utf8);
    assert!(!got[0].column(1).as_string::<i32>().value(0).is_empty());

    // Errors are statuses; the server keeps serving.
    let err = sql(&mut c, "SELEC 1").await.unwrap_err();
    assert!(is_code(&err, tonic::Code::InvalidArgument), "{err}");
    let err = sql(&mut c, "SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    let err = c
        .do_get(arrow_flight::Ticket::new(b"not a ticket".to_vec()))
        .await
        .expect_err("bad ticket refused");
    assert!(!err.to_string().is_empty());
    let got = sql(&mut c, "SELECT 41 + 1 AS x").await.unwrap();
    assert_eq!(int_at(&got, 0), 42);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refused() {
    let clock = Arc::new(ManualClock::default());
    let cfg = config(FlightLayer {
        token_ttl: Some("10m".into()),
        ..Default::default()
    });
    let server = TestServer::start_with_clock(session(shop()).await, cfg, Arc::clone(&clock)).await;
    let mut c = server.login("ann").await;
    sql(&mut c, "SELECT 1").await.unwrap();
    clock.advance(Duration::from_secs(9 * 60));
    sql(&mut c, "SELECT 1").await.unwrap();
    clock.advance(Duration::from_secs(2 * 60));
    let err = sql(&mut c, "SELECT 1").await.unwrap_err();
    assert!(err.to_string().contains("token expired"), "{err}");
    // Logging in again works.
    c.clear_token();
    c.handshake("ann", &password("ann")).await.unwrap();
    sql(&mut c, "SELECT 1").await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statement_with_parameters() {
    let ctx = session(shop()).await;
    let over_30 = scalar_i64(&ctx, "SELECT count(*) FROM users WHERE age > 30").await;
    let over_50 = scalar_i64(&ctx, "SELECT count(*) FROM users WHERE age > 50").await;
    assert_ne!(over_30, over_50);
    let server = TestServer::start(ctx, config(FlightLayer::default())).await;
    let mut c = server.login("rita").await;

    let mut stmt = c
        .prepare(
            "SELECT count(*) AS n FROM users WHERE age > $1".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(stmt.parameter_schema().unwrap().fields().len(), 1);
    assert_eq!(stmt.dataset_schema().unwrap().field(0).name(), "n");
    // Executing before binding is a clear error.
    let err = stmt.execute().await.unwrap_err();
    assert!(err.to_string().contains("bind them"), "{err}");
    for (age, expected) in [(30i64, over_30), (50, over_50)] {
        let params = RecordBatch::try_from_iter([(
            "$1",
            Arc::new(Int64Array::from(vec![age])) as Arc<dyn Array>,
        )])
        .unwrap();
        stmt.set_parameters(params).unwrap();
        let info = stmt.execute().await.unwrap();
        let got = fetch(&mut c, info).await.unwrap();
        assert_eq!(int_at(&got, 0), expected, "age > {age}");
    }
    // Two parameters where one is expected: refused, and the statement still works after.
    let two = RecordBatch::try_from_iter([
        ("a", Arc::new(Int64Array::from(vec![1])) as Arc<dyn Array>),
        ("b", Arc::new(Int64Array::from(vec![2])) as Arc<dyn Array>),
    ])
    .unwrap();
    stmt.set_parameters(two).unwrap();
    let err = stmt.execute().await.unwrap_err();
    assert!(err.to_string().contains("1 parameter(s), got 2"), "{err}");
    stmt.close().await.unwrap();

    // A statement without parameters, as JDBC sends every query.
    let mut plain = c
        .prepare("SELECT count(*) FROM products".into(), None)
        .await
        .unwrap();
    let info = plain.execute().await.unwrap();
    assert!(int_at(&fetch(&mut c, info).await.unwrap(), 0) > 0);
    plain.close().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_calls() {
    let server = TestServer::start(session(shop()).await, config(FlightLayer::default())).await;
    let mut c = server.login("rita").await;

    let info = c.get_catalogs().await.unwrap();
    let got = fetch(&mut c, info).await.unwrap();
    let names: Vec<String> = got[0]
        .column(0)
        .as_string::<i32>()
        .iter()
        .flatten()
        .map(String::from)
        .collect();
    assert!(names.contains(&"ecomsql".to_string()), "{names:?}");

    let info = c
        .get_db_schemas(CommandGetDbSchemas {
            catalog: Some("ecomsql".into()),
            db_schema_filter_pattern: Some("pub%".into()),
        })
        .await
        .unwrap();
    let got = fetch(&mut c, info).await.unwrap();
    assert_eq!(rows(&got), 1);
    assert_eq!(got[0].column(1).as_string::<i32>().value(0), "public");

    let info = c
        .get_tables(CommandGetTables {
            catalog: Some("ecomsql".into()),
            db_schema_filter_pattern: Some("public".into()),
            table_name_filter_pattern: Some("user%".into()),
            table_types: vec![],
            include_schema: true,
        })
        .await
        .unwrap();
    let got = fetch(&mut c, info).await.unwrap();
    assert_eq!(rows(&got), 1, "only `users` matches user%");
    let b = &got[0];
    assert_eq!(
        b.column_by_name("table_name")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "users"
    );
    assert_eq!(
        b.column_by_name("table_type")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "TABLE"
    );
    let schema_bytes = b
        .column_by_name("table_schema")
        .unwrap()
        .as_binary::<i32>()
        .value(0)
        .to_vec();
    let schema = Schema::try_from(arrow_flight::IpcMessage(schema_bytes.into())).unwrap();
    assert!(schema.field_with_name("signup_ts").is_ok(), "{schema:?}");
    assert_eq!(
        schema.field_with_name("country").unwrap().data_type(),
        &DataType::Utf8,
        "table schemas are advertised in plain types"
    );

    let info = c.get_table_types().await.unwrap();
    assert_eq!(rows(&fetch(&mut c, info).await.unwrap()), 3);

    let info = c
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::SqlIdentifierQuoteChar,
            SqlInfo::SqlKeywords,
        ])
        .await
        .unwrap();
    assert_eq!(rows(&fetch(&mut c, info).await.unwrap()), 3);
    let info = c.get_sql_info(vec![]).await.unwrap();
    assert!(
        rows(&fetch(&mut c, info).await.unwrap()) > 30,
        "a complete SqlInfo"
    );

    // Keys: ecomsql declares none, and says so with an empty answer rather than an error.
    let info = c
        .get_primary_keys(arrow_flight::sql::CommandGetPrimaryKeys {
            catalog: None,
            db_schema: None,
            table: "users".into(),
        })
        .await
        .unwrap();
    assert_eq!(info.clone().try_decode_schema().unwrap().fields().len(), 6);
    assert_eq!(rows(&fetch(&mut c, info).await.unwrap()), 0);

    let info = c
        .get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: None })
        .await
        .unwrap();
    assert!(rows(&fetch(&mut c, info).await.unwrap()) >= 10);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_on_the_plan() {
    let state = temp_dir("flight-roles");
    let out = temp_dir("flight-copy");
    let ctx = session_with_state(shop(), state.path()).await;
    let server = TestServer::start(ctx, config(FlightLayer::default())).await;
    let create = "CREATE MODEL flight_km OPTIONS (model_type = 'kmeans', num_clusters = 2, seed = 1) \
                  AS SELECT * FROM (VALUES (1.0), (1.1), (9.0), (9.2)) AS t(x)";
    let copy = format!(
        "COPY (SELECT 1 AS x) TO '{}/x.parquet'",
        out.path().display()
    );
    let external = format!(
        "CREATE EXTERNAL TABLE sneaky STORED AS PARQUET LOCATION '{}'",
        shop().join("users").display()
    );

    let mut reader = server.login("rita").await;
    for stmt in [
        create,
        &copy,
        &external,
        "DROP MODEL IF EXISTS flight_km",
        "SET datafusion.execution.batch_size = 7",
    ] {
        let err = reader
            .execute_update(stmt.to_string(), None)
            .await
            .unwrap_err();
        assert!(
            is_code(&err, tonic::Code::PermissionDenied) && err.to_string().contains("role reader"),
            "{stmt}: {err}"
        );
        // The same through a query (GetFlightInfo) and a prepared statement.
        let err = reader.execute(stmt.to_string(), None).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{stmt}: {err}"
        );
        let err = reader
            .prepare(stmt.to_string(), None)
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("permission denied"),
            "{stmt}: {err}"
        );
    }
    assert!(
        !out.path().join("x.parquet").exists(),
        "COPY must not have run"
    );
    // Readers still read, SHOW MODELS included.
    sql(&mut reader, "SHOW MODELS").await.unwrap();

    let mut analyst = server.login("ann").await;
    assert_eq!(
        analyst
            .execute_update(create.to_string(), None)
            .await
            .unwrap(),
        1
    );
    let shown = sql(&mut analyst, "SHOW MODELS").await.unwrap();
    assert_eq!(rows(&shown), 1);
    let segs = sql(
        &mut reader,
        "SELECT segment('flight_km', 1.05) = segment('flight_km', 1.0) AS same",
    )
    .await
    .unwrap();
    assert!(segs[0].column(0).as_boolean().value(0));
    let err = analyst
        .execute_update(copy.clone(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("role analyst may not run COPY"),
        "{err}"
    );
    analyst
        .execute_update("DROP MODEL flight_km".into(), None)
        .await
        .unwrap();

    let mut admin = server.login("root").await;
    admin.execute_update(copy.clone(), None).await.unwrap();
    assert!(
        out.path().join("x.parquet").exists(),
        "the admin's COPY ran"
    );
    server.stop().await;
}

/// A query that runs far longer than any test: every pair of events.
const ENDLESS: &str = "SELECT a.event_id, b.event_id FROM events a CROSS JOIN events b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_cancels_the_query() {
    let mut server = TestServer::start(session(shop()).await, config(FlightLayer::default())).await;
    let mut c = server.login("rita").await;
    let info = c.execute(ENDLESS.into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut stream = c.do_get(ticket).await.unwrap();
    let first = stream.try_next().await.unwrap().expect("a first batch");
    assert!(first.num_rows() > 0);
    assert_eq!(*server.running.borrow(), 1);
    drop(stream);
    server.wait_idle().await;
    // The server goes on serving.
    sql(&mut c, "SELECT 1").await.unwrap();
    server.stop().await;
}

/// Sends `CancelFlightInfo` for `info`, as ADBC's `AdbcStatementCancel` does.
async fn cancel(client: &mut Client, info: &FlightInfo) -> Result<CancelStatus, FlightError> {
    let request = CancelFlightInfoRequest::new(info.clone());
    let action = Action::new("CancelFlightInfo", request.encode_to_vec());
    let reply = client
        .do_action(action)
        .await?
        .try_next()
        .await?
        .ok_or_else(|| FlightError::protocol("no CancelFlightInfo result"))?;
    Ok(CancelFlightInfoResult::decode(reply.body)?.status())
}

/// Cancels `info` until the answer is final: `CANCELLING` (the stream was mid-poll) is
/// retried, as the spec tells clients to; a bounded number of times.
async fn cancel_fully(client: &mut Client, info: &FlightInfo) -> CancelStatus {
    for _ in 0..100 {
        match cancel(client, info).await.expect("cancel") {
            CancelStatus::Cancelling => tokio::task::yield_now().await,
            done => return done,
        }
    }
    panic!("still CANCELLING after 100 tries");
}

/// The query id (ticket handle) of a statement's FlightInfo.
fn query_id(info: &FlightInfo) -> String {
    let ticket = info.endpoint[0].ticket.as_ref().expect("ticket");
    let any = Any::decode(&*ticket.ticket).expect("an Any ticket");
    let t: TicketStatementQuery = any.unpack().unwrap().expect("a statement ticket");
    String::from_utf8(t.statement_handle.to_vec()).unwrap()
}

/// Reads `stream` to its end, which must be an error, within `within`.
async fn error_at_end(
    stream: &mut arrow_flight::decode::FlightRecordBatchStream,
    within: Duration,
) -> FlightError {
    tokio::time::timeout(within, async {
        loop {
            match stream.try_next().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended without an error"),
                Err(e) => return e,
            }
        }
    })
    .await
    .expect("the cancelled stream ends promptly")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_flight_info_stops_a_streaming_query() {
    // One slot and no queue: a query left holding the slot would make the next one fail.
    let cfg = config(FlightLayer {
        max_running_queries: Some(1),
        max_queued_queries: Some(0),
        ..Default::default()
    });
    let mut server = TestServer::start(session(shop()).await, cfg).await;
    let mut c = server.login("ann").await;
    let mut other = server.login("rita").await;
    let info = c.execute(ENDLESS.into(), None).await.unwrap();
    let id = query_id(&info);
    let mut stream = c
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    let first = stream.try_next().await.unwrap().expect("a first batch");
    assert!(first.num_rows() > 0);
    assert_eq!(*server.running.borrow(), 1);
    let err = sql(&mut other, "SELECT 1").await.unwrap_err();
    assert!(is_code(&err, tonic::Code::ResourceExhausted), "{err}");

    let started = std::time::Instant::now();
    assert_eq!(cancel_fully(&mut c, &info).await, CancelStatus::Cancelled);
    // CANCELLED means the query's slot is free already, before the client reads on.
    assert_eq!(*server.running.borrow(), 0);
    let got = sql(&mut other, "SELECT 41 + 1 AS x").await.unwrap();
    assert_eq!(int_at(&got, 0), 42);

    // The stream ends with CANCELLED naming the query, long before the query would have.
    let end = error_at_end(&mut stream, Duration::from_secs(10)).await;
    assert!(is_code(&end, tonic::Code::Cancelled), "{end}");
    assert!(
        end.to_string()
            .contains(&format!("query {id} was cancelled by ann")),
        "{end}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(stream);
    server.wait_idle().await;
    // Cancelling again is answered the same (the action is idempotent); the server serves on.
    assert_eq!(
        cancel(&mut c, &info).await.unwrap(),
        CancelStatus::Cancelled
    );
    let got = sql(&mut c, "SELECT count(*) FROM users").await.unwrap();
    assert_eq!(int_at(&got, 0), 2000);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_do_get() {
    let mut server = TestServer::start(session(shop()).await, config(FlightLayer::default())).await;
    let mut c = server.login("ann").await;
    let info = c
        .execute("SELECT count(*) FROM users".into(), None)
        .await
        .unwrap();
    let id = query_id(&info);
    assert_eq!(
        cancel(&mut c, &info).await.unwrap(),
        CancelStatus::Cancelled
    );
    let err = fetch(&mut c, info.clone()).await.unwrap_err();
    assert!(is_code(&err, tonic::Code::Cancelled), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("query {id} was cancelled by ann")),
        "{err}"
    );
    assert_eq!(
        cancel(&mut c, &info).await.unwrap(),
        CancelStatus::Cancelled
    );

    // The deprecated Flight SQL action older JDBC drivers send: the FlightInfo as bytes, the
    // request and the result wrapped in `Any`.
    let info = c.execute("SELECT 1".into(), None).await.unwrap();
    let request = ActionCancelQueryRequest {
        info: info.encode_to_vec().into(),
    };
    let reply = c
        .do_action(Action::new("CancelQuery", request.as_any().encode_to_vec()))
        .await
        .unwrap()
        .try_next()
        .await
        .unwrap()
        .expect("a CancelQuery result");
    let result: ActionCancelQueryResult = Any::decode(reply.body)
        .unwrap()
        .unpack()
        .unwrap()
        .expect("an ActionCancelQueryResult");
    assert_eq!(result.result, 1, "CANCEL_RESULT_CANCELLED");
    let err = fetch(&mut c, info).await.unwrap_err();
    assert!(is_code(&err, tonic::Code::Cancelled), "{err}");

    // A query that ran to its end, and a metadata call, are not cancellable.
    let info = c.execute("SELECT 1".into(), None).await.unwrap();
    fetch(&mut c, info.clone()).await.unwrap();
    assert_eq!(
        cancel(&mut c, &info).await.unwrap(),
        CancelStatus::NotCancellable
    );
    let catalogs = c.get_catalogs().await.unwrap();
    assert_eq!(
        cancel(&mut c, &catalogs).await.unwrap(),
        CancelStatus::NotCancellable
    );
    server.wait_idle().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_for_the_owner_or_an_admin() {
    let mut server = TestServer::start(session(shop()).await, config(FlightLayer::default())).await;
    let mut ann = server.login("ann").await;
    let mut rita = server.login("rita").await;
    let mut root = server.login("root").await;
    let info = ann.execute(ENDLESS.into(), None).await.unwrap();
    let mut stream = ann
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    stream.try_next().await.unwrap().expect("a first batch");

    // Another user may not cancel it; the query runs on.
    let err = cancel(&mut rita, &info).await.unwrap_err();
    assert!(is_code(&err, tonic::Code::PermissionDenied), "{err}");
    assert!(err.to_string().contains("another user"), "{err}");
    assert_eq!(*server.running.borrow(), 1);
    stream.try_next().await.unwrap().expect("still streaming");

    // A ticket no query has: NOT_FOUND (Flight.proto asks for it rather than UNSPECIFIED);
    // something that is no Flight SQL ticket at all: INVALID_ARGUMENT.
    let forged = |ticket: Vec<u8>| {
        FlightInfo::new().with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
    };
    let unknown = TicketStatementQuery {
        statement_handle: "no-such-query".into(),
    };
    let err = cancel(&mut ann, &forged(unknown.as_any().encode_to_vec()))
        .await
        .unwrap_err();
    assert!(is_code(&err, tonic::Code::NotFound), "{err}");
    let err = cancel(&mut ann, &forged(b"\xffnot a ticket".to_vec()))
        .await
        .unwrap_err();
    assert!(is_code(&err, tonic::Code::InvalidArgument), "{err}");

    // An admin may cancel anyone's query.
    assert_eq!(
        cancel_fully(&mut root, &info).await,
        CancelStatus::Cancelled
    );
    let end = error_at_end(&mut stream, Duration::from_secs(10)).await;
    assert!(is_code(&end, tonic::Code::Cancelled), "{end}");
    assert!(end.to_string().contains("cancelled by root"), "{end}");
    drop(stream);
    server.wait_idle().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_fail_only_the_query_over_them() {
    let cfg = config(FlightLayer {
        query_memory_limit: Some("2MiB".into()),
        // Long enough for the small query below on a 2-core machine running the other tests at
        // once (1 s and 5 s were not: it can wait behind the timed-out query's last polls,
        // about 1 s in a debug build with nothing else running), far shorter than the endless
        // query.
        query_timeout: Some("15s".into()),
        ..Default::default()
    });
    let mut server = TestServer::start(session(shop()).await, cfg).await;
    let mut c = server.login("rita").await;
    // A hash join cannot spill its build side: over the per-query pool it fails.
    let err = sql(
        &mut c,
        "SELECT count(*) FROM events a JOIN events b ON a.event_id = b.event_id AND a.event_type = b.event_type",
    )
    .await
    .unwrap_err();
    assert!(
        is_code(&err, tonic::Code::ResourceExhausted)
            && err.to_string().contains("query_memory_limit"),
        "{err}"
    );
    // Past the time limit.
    // (A filter, so the count cannot come from row-count statistics.)
    let endless_count = "SELECT count(*) FROM events a CROSS JOIN events b \
                         WHERE (a.event_id + b.event_id) % 7 = 3";
    let err = sql(&mut c, endless_count).await.unwrap_err();
    assert!(err.to_string().contains("timed out after 15.0s"), "{err}");
    server.wait_idle().await;
    // Others are unaffected.
    let got = sql(&mut c, "SELECT count(*) FROM users").await.unwrap();
    assert_eq!(int_at(&got, 0), 2000);
    server.stop().await;
}

/// A count over every pair of events with a filter (so statistics cannot answer it): minutes of
/// work on every core, and no batch to send until the end, so no client can throttle it.
const BUSY: &str = "SELECT count(*) FROM events a CROSS JOIN events b \
                    WHERE (a.event_id + b.event_id) % 7 = 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_query_leaves_the_server_responsive() {
    let mut server = TestServer::start(session(shop()).await, config(FlightLayer::default())).await;
    let mut busy = server.login("ann").await;
    let info = busy.execute(BUSY.into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut reader = busy.clone();
    let running = tokio::spawn(async move {
        reader
            .do_get(ticket)
            .await?
            .try_collect::<Vec<RecordBatch>>()
            .await
    });
    tokio::time::timeout(
        Duration::from_secs(30),
        server.running.wait_for(|n| *n == 1),
    )
    .await
    .expect("the busy query starts")
    .unwrap();
    // Not a synchronisation: it gives the busy query time to take every core before the
    // other client arrives (the case this test is about).
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The bounds are generous liveness checks, not speed targets. Each is checked on the wall
    // clock too: a starved runtime cannot fire the test's own timers either.
    let within = Duration::from_secs(30);
    let started = std::time::Instant::now();
    let mut other = tokio::time::timeout(within, server.login("rita"))
        .await
        .expect("a login is answered while a query keeps the cores busy");
    let got = tokio::time::timeout(within, sql(&mut other, "SELECT 41 + 1 AS x"))
        .await
        .expect("a small query is answered while a query keeps the cores busy")
        .unwrap();
    assert_eq!(int_at(&got, 0), 42);
    let tables = tokio::time::timeout(within, other.get_tables(CommandGetTables::default()))
        .await
        .expect("metadata is answered while a query keeps the cores busy")
        .unwrap();
    assert!(rows(&fetch(&mut other, tables).await.unwrap()) > 0);
    assert!(
        started.elapsed() < within,
        "login, query and metadata took {:?} next to a busy query",
        started.elapsed()
    );
    assert!(!running.is_finished(), "the busy query is still running");
    assert_eq!(
        cancel_fully(&mut busy, &info).await,
        CancelStatus::Cancelled
    );
    let end = running.await.unwrap().unwrap_err();
    assert!(is_code(&end, tonic::Code::Cancelled), "{end}");
    server.wait_idle().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_fifty_mixed_queries_each() {
    let ctx = session(shop()).await;
    let users_total = scalar_i64(&ctx, "SELECT count(*) FROM users").await;
    let server = Arc::new(TestServer::start(ctx, config(FlightLayer::default())).await);
    let mut tasks = vec![];
    for i in 0..16 {
        let server = Arc::clone(&server);
        tasks.push(tokio::spawn(async move {
            let mut c = server.login(if i % 2 == 0 { "rita" } else { "ann" }).await;
            let mut prepared = c
                .prepare("SELECT count(*) FROM users WHERE age >= $1".into(), None)
                .await?;
            for q in 0..50 {
                match q % 5 {
                    0 => {
                        let got = sql(&mut c, "SELECT count(*) FROM users").await?;
                        assert_eq!(int_at(&got, 0), users_total);
                    }
                    1 => {
                        sql(&mut c, "SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY 2 DESC").await?;
                    }
                    2 => {
                        let p = RecordBatch::try_from_iter([(
                            "$1",
                            Arc::new(Int64Array::from(vec![18 + q as i64])) as Arc<dyn Array>,
                        )])?;
                        prepared.set_parameters(p)?;
                        let info = prepared.execute().await?;
                        fetch(&mut c, info).await?;
                    }
                    3 => {
                        let info = c.get_tables(CommandGetTables {
                            include_schema: true,
                            ..Default::default()
                        })
                        .await?;
                        fetch(&mut c, info).await?;
                    }
                    _ => {
                        sql(&mut c, "SHOW MODELS").await?;
                    }
                }
            }
            prepared.close().await?;
            Ok::<usize, FlightError>(50)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap().expect("every query succeeds");
    }
    assert_eq!(done, 800);
    let server = Arc::into_inner(server).expect("all clients done");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let dir = temp_dir("flight-tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let cfg = config(FlightLayer {
        tls_cert: Some(dir.path().join("cert.pem")),
        tls_key: Some(dir.path().join("key.pem")),
        ..Default::default()
    });
    let server = TestServer::start(session(shop()).await, cfg).await;
    let channel = Channel::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&cert_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .expect("TLS connect");
    let mut c = FlightSqlServiceClient::new(channel);
    c.handshake("rita", &password("rita")).await.unwrap();
    let got = sql(&mut c, "SELECT 7 AS x").await.unwrap();
    assert_eq!(int_at(&got, 0), 7);
    // A plaintext client gets nowhere.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(ch) = plain {
        let mut p = FlightSqlServiceClient::new(ch);
        assert!(p.handshake("rita", &password("rita")).await.is_err());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_server_stays_on_loopback_and_shutdown_is_bounded() {
    // Without users the server refuses anything but loopback.
    let open = FlightLayer::default().check().unwrap();
    let server = Server::new(session(shop()).await, &open).unwrap();
    let wide = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = server.run(wide, std::future::pending()).await.unwrap_err();
    assert!(err.to_string().contains("without users"), "{err}");

    // On loopback it serves anyone; a query still streaming at shutdown gets the grace period,
    // then the server returns.
    let cfg = FlightLayer {
        shutdown_grace: Some("300ms".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    let server = TestServer::start(session(shop()).await, cfg).await;
    let mut c = FlightSqlServiceClient::new(server.channel().await);
    let got = sql(&mut c, "SELECT 5 AS x").await.unwrap();
    assert_eq!(int_at(&got, 0), 5);
    let info = c.execute(ENDLESS.into(), None).await.unwrap();
    let mut stream = c
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    stream.try_next().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("shutdown finished within its grace period");
}

/// The Python with `adbc-driver-flightsql` and `pyarrow`: `ECOMSQL_TEST_PYTHON` when set (CI's
/// `.ci/run` makes the venv and sets it), else a venv under the target folder, created here on
/// first use with pip from PyPI. No Python or no PyPI is a failure, not a skip.
fn adbc_python() -> std::path::PathBuf {
    use std::process::Command;
    if let Ok(p) = std::env::var("ECOMSQL_TEST_PYTHON") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/integration-… → target/
    let target = exe.ancestors().nth(3).expect("target folder");
    let venv = target.join("py-venv");
    let python = venv.join("bin").join("python");
    let ready = |py: &std::path::Path| {
        Command::new(py)
            .args(["-c", "import adbc_driver_flightsql.dbapi, pyarrow"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return python;
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "cannot create a Python venv at {} (python3 -m venv); set ECOMSQL_TEST_PYTHON to a Python \
         with adbc-driver-flightsql and pyarrow",
        venv.display()
    );
    let pip = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "adbc-driver-flightsql",
            "pyarrow",
        ])
        .output()
        .expect("run pip");
    assert!(
        pip.status.success(),
        "pip could not install adbc-driver-flightsql and pyarrow (is PyPI reachable?): {}",
        String::from_utf8_lossy(&pip.stderr)
    );
    assert!(
        ready(&python),
        "the venv at {} lacks the ADBC driver after pip",
        venv.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adbc_python_client() {
    let python = tokio::task::spawn_blocking(adbc_python).await.unwrap();
    let ctx = session(shop()).await;
    let users_total = scalar_i64(&ctx, "SELECT count(*) FROM users").await;
    let over_30 = scalar_i64(&ctx, "SELECT count(*) FROM users WHERE age > 30").await;
    // The driver sends Basic credentials unpadded: log in with "user:password" of every length
    // mod 3 ("rita:atir" 0, "bob:pw_reader" 1, "dave:pw_reader" 2).
    let logins = [
        ("rita", password("rita")),
        ("bob", "pw_reader".into()),
        ("dave", "pw_reader".into()),
    ];
    let mut cfg = config(FlightLayer::default());
    for (name, pw) in &logins[1..] {
        cfg.users
            .push(User::new(name, &hash_password(pw).unwrap(), Role::Reader).unwrap());
    }
    let logins_json = format!(
        "[{}]",
        logins
            .iter()
            .map(|(u, p)| format!("[\"{u}\", \"{p}\"]"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let server = TestServer::start(ctx, cfg).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/flight_adbc.py");
    let uri = format!("grpc://{}", server.addr);
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&script)
        .env("ECOMSQL_FLIGHT_URI", &uri)
        .env("ECOMSQL_FLIGHT_USER", "rita")
        .env("ECOMSQL_FLIGHT_PASSWORD", password("rita"))
        .env("ECOMSQL_FLIGHT_LOGINS", logins_json)
        .env("ECOMSQL_EXPECT_USERS", users_total.to_string())
        .env("ECOMSQL_EXPECT_OVER_30", over_30.to_string());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ADBC client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("fetched 1000000 rows as Arrow"), "{stdout}");
    for n in 0..3 {
        let line = format!("(length mod 3 = {n}) logs in and queries");
        assert!(stdout.contains(&line), "{line} missing from:\n{stdout}");
    }
    server.stop().await;
}

/// A flood of concurrent logins with a real user name or an unknown one and a wrong password:
/// each is answered, as a wrong password or as "too many logins" (the server checks a bounded
/// number at once, see `flight::auth`), and a correct login and a query still work after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_logins_is_answered_and_real_logins_still_work() {
    let server = TestServer::start(session(shop()).await, config(FlightLayer::default())).await;
    let channel = server.channel().await;
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..100 {
        let mut c = FlightSqlServiceClient::new(channel.clone());
        let user = if i % 2 == 0 { "rita" } else { "nobody" };
        flood.spawn(async move { c.handshake(user, "wrong").await });
    }
    let (mut wrong, mut busy) = (0, 0);
    while let Some(r) = flood.join_next().await {
        let err = r.unwrap().expect_err("a wrong password logged in");
        let text = err.to_string();
        if text.contains("invalid user name or password") {
            wrong += 1;
        } else if text.contains("too many logins") {
            busy += 1;
        } else {
            panic!("unexpected login error: {text}");
        }
    }
    assert_eq!(wrong + busy, 100);
    let mut c = server.login("rita").await;
    let got = sql(&mut c, "SELECT 3 AS x").await.unwrap();
    assert_eq!(int_at(&got, 0), 3);
    server.stop().await;
}

/// `serve` with no users refuses an address beyond loopback before it binds or announces
/// anything. 192.0.2.1 (TEST-NET-1) is on no interface here, so binding it would fail: the
/// refusal naming users, not "cannot listen", shows the check comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_serve_refuses_a_wide_address_before_binding() {
    use ecomsql::flight::{ListenAddr, ServeError};
    let open = FlightLayer::default().check().unwrap();
    for addr in ["0.0.0.0:0", "192.0.2.1:0"] {
        let err = ListenAddr::check(addr, &open).await.unwrap_err();
        assert!(
            matches!(err, ServeError::OpenNonLoopback(_)),
            "{addr}: {err}"
        );
    }
    // With users the same address passes the check, and binding it is what fails.
    let with_users = config(FlightLayer::default());
    let unbindable = ListenAddr::check("192.0.2.1:0", &with_users).await.unwrap();
    let err = unbindable.bind().await.unwrap_err();
    assert!(
        err.to_string().contains("cannot listen on 192.0.2.1:0"),
        "{err}"
    );
    let loopback = ListenAddr::check("127.0.0.1:0", &open).await.unwrap();
    assert!(
        loopback
            .bind()
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .ip()
            .is_loopback()
    );

    // The binary: refused, and nothing announced.
    let state = temp_dir("flight-serve-open");
    for addr in ["0.0.0.0:0", "192.0.2.1:0"] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ecomsql"));
        cmd.args(["serve", "--flight", addr, "--data"])
            .arg(shop())
            .arg("--state-dir")
            .arg(state.path());
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("run ecomsql serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{addr}: {stderr}");
        assert!(stderr.contains("without users"), "{addr}: {stderr}");
        assert!(!stderr.contains("grpc://"), "{addr} announced: {stderr}");
        assert!(
            !stderr.contains("cannot listen"),
            "{addr} tried to bind: {stderr}"
        );
    }
}

/// The binary: `ecomsql serve --flight 127.0.0.1:0` announces its address, answers a query,
/// logs one line for it, and exits 0 on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_logs_queries_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let state = temp_dir("flight-serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecomsql"))
        .args(["serve", "--flight", "127.0.0.1:0", "--data"])
        .arg(shop())
        .arg("--state-dir")
        .arg(state.path())
        .env_remove("ECOMSQL_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start ecomsql serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The announcement line carries the bound address (read on a blocking thread).
    let (addr, stderr) = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "serve exited early"
            );
            if let Some(rest) = line.split("grpc://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap().to_string();
                return (addr, stderr);
            }
        }
    })
    .await
    .unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the binary");
    let mut c = FlightSqlServiceClient::new(channel);
    let got = sql(&mut c, "SELECT count(*) FROM users").await.unwrap();
    assert_eq!(int_at(&got, 0), 2000);
    drop(c);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let (status, rest) = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        let mut stderr = stderr;
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        (child.wait().unwrap(), rest)
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status {status:?}; stderr: {rest}");
    let line = rest
        .lines()
        .find(|l| l.contains("ecomsql::flight") && l.contains(" query "))
        .unwrap_or_else(|| panic!("no query log line in: {rest}"));
    for field in [
        "user=anonymous",
        "kind=",
        "rows=1",
        "bytes=",
        "duration_ms=",
        "outcome=",
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
    assert!(line.contains("ok"), "{line}");
}
