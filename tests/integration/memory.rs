//! Every query within its memory (issue 20): a query whose state outgrows its pool fails alone
//! with the resources error; the server, and everyone else's queries and logins, go on.

use std::time::Duration;

use ecomsql::config::FlightLayer;

use crate::fixture::{session, shop};
use crate::flight::{TestServer, config, int_at, is_code, sql};

/// Shapes of the memory soak corpus (benches/soak/corpus.sql) whose state is far larger than
/// 4 MiB on the test shop: a list of every event per user, the same of structs, a distinct
/// count of long values per user beside other aggregates, and a per-user median.
const EXPLODING: &[&str] = &[
    "SELECT user_id, cardinality(array_agg(repeat(event_type, 100))) FROM events GROUP BY user_id",
    "SELECT user_id, cardinality(array_agg(named_struct('q', repeat(event_type, 100), 'ts', ts))) \
     FROM events GROUP BY user_id",
    "SELECT user_id, count(DISTINCT concat(repeat(category, 20), event_id)), count(*), max(ts) \
     FROM events GROUP BY user_id",
    "SELECT user_id, length(string_agg(repeat(event_type, 100), ',')) FROM events GROUP BY user_id",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_memory_fails_alone_while_others_log_in_and_query() {
    let cfg = config(FlightLayer {
        query_memory_limit: Some("4MiB".into()),
        query_timeout: Some("120s".into()),
        ..Default::default()
    });
    let server = TestServer::start(session(shop()).await, cfg).await;
    for big in EXPLODING {
        let mut analyst = server.login("ann").await;
        let running = tokio::spawn(async move { sql(&mut analyst, big).await });
        // Meanwhile another user logs in and gets answers.
        let mut reader = server.login("rita").await;
        let got = sql(&mut reader, "SELECT count(*) FROM users")
            .await
            .unwrap();
        assert_eq!(int_at(&got, 0), 2000);
        let err = tokio::time::timeout(Duration::from_secs(120), running)
            .await
            .expect("the big query ends")
            .unwrap()
            .expect_err(big);
        assert!(
            is_code(&err, tonic::Code::ResourceExhausted)
                && err.to_string().contains("query_memory_limit"),
            "{big}: {err}"
        );
    }
    // The same shapes under the limit answer (nothing is left reserved by the failures).
    let mut reader = server.login("rita").await;
    let got = sql(
        &mut reader,
        "SELECT count(*) FROM (SELECT user_id, count(DISTINCT category), count(*) FROM events \
         GROUP BY user_id)",
    )
    .await
    .unwrap();
    assert!(int_at(&got, 0) > 1000);
    server.stop().await;
}
