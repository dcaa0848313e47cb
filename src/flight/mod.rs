//! The Arrow Flight SQL server (`ecomsql serve`): BI tools (DBeaver, Superset, Tableau through
//! the Flight SQL JDBC driver) and notebooks (ADBC) query ecomsql over the network.
//!
//! - [`service`]: the `FlightSqlService` (queries, prepared statements, updates, metadata)
//! - [`auth`]: Basic → Bearer handshake, argon2 password hashes, expiring tokens
//! - [`roles`]: reader / analyst / admin, checked on the logical plan
//! - [`limits`]: running-query cap and queue, time limit, per-query memory pool
//! - [`running`]: a streaming query: cancellation (stream dropped, or a cancel action), time
//!   limit, its log line
//! - [`tickets`]: queries by ticket — waiting for DoGet, running, ended — and what a cancel
//!   (CancelFlightInfo, CancelQuery) answers for each
//! - [`prepared`]: prepared statements
//! - [`metadata`]: SqlInfo, XDBC type info, catalogs, schemas, tables, table types
//! - [`errors`]: engine errors to gRPC statuses
//!
//! Queries run on a [`QueryExecutor`] of their own (one thread per core), apart from the
//! runtime that serves gRPC, so logins, metadata calls, cancels and small queries are answered
//! while large queries keep the cores busy.
//!
//! [`Server::run`] takes a bound listener and a shutdown future, so tests bind port 0 and stop
//! the server through a channel. `serve` gets its listener from [`ListenAddr`]: the address is
//! resolved and checked (an open server stays on loopback) before anything binds, so a refused
//! server never held a port or announced an address.

pub mod auth;
pub mod errors;
pub mod limits;
pub mod metadata;
pub mod prepared;
pub mod roles;
pub mod running;
pub mod service;
pub mod tickets;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use datafusion::prelude::SessionContext;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};

use crate::config::FlightConfig;
use crate::executor::QueryExecutor;
use auth::{Authenticator, Clock, SystemClock};
use limits::Limits;
use service::EcomsqlFlightService;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A TLS file could not be read.
    #[error("cannot read TLS file {path}: {message}")]
    TlsFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An open server (no users) asked to listen beyond loopback.
    #[error(
        "refusing to listen on {0} without users: configure [[flight.users]] in ecomsql.toml, \
         or listen on 127.0.0.1"
    )]
    OpenNonLoopback(SocketAddr),
    /// The address could not be resolved or bound.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address as given.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// The service could not be set up.
    #[error("{0}")]
    Setup(String),
    /// The transport failed.
    #[error("flight server: {0}")]
    Transport(String),
}

/// Where the server will listen: the address resolved and checked, not yet bound.
#[derive(Debug, Clone)]
pub struct ListenAddr {
    text: String,
    addrs: Vec<SocketAddr>,
}

impl ListenAddr {
    /// Resolves `addr` (`HOST:PORT`) and refuses it, before anything binds, when the server
    /// would be open (no users in `config`) and any of its addresses is beyond loopback.
    pub async fn check(addr: &str, config: &FlightConfig) -> Result<Self, ServeError> {
        let listen_error = |message: String| ServeError::Listen {
            addr: addr.to_string(),
            message,
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| listen_error(e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(listen_error("the name has no addresses".to_string()));
        }
        if config.users.is_empty()
            && let Some(wide) = addrs.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(ServeError::OpenNonLoopback(*wide));
        }
        Ok(Self {
            text: addr.to_string(),
            addrs,
        })
    }

    /// Binds the first of the addresses that can be bound.
    pub async fn bind(&self) -> Result<TcpListener, ServeError> {
        TcpListener::bind(&self.addrs[..])
            .await
            .map_err(|e| ServeError::Listen {
                addr: self.text.clone(),
                message: e.to_string(),
            })
    }
}

/// A configured Flight SQL server, ready to [`Server::run`].
pub struct Server {
    service: EcomsqlFlightService,
    limits: Arc<Limits>,
    open: bool,
    tls: Option<Identity>,
    grace: Duration,
}

impl Server {
    /// A server over `ctx` with the `[flight]` settings (users, limits, TLS files).
    pub fn new(ctx: SessionContext, config: &FlightConfig) -> Result<Self, ServeError> {
        Self::with_clock(ctx, config, Arc::new(SystemClock))
    }

    /// As [`Server::new`], with token expiry measured by `clock` (tests).
    pub fn with_clock(
        ctx: SessionContext,
        config: &FlightConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServeError> {
        let tls = match &config.tls {
            Some((cert, key)) => Some(Identity::from_pem(read(cert)?, read(key)?)),
            None => None,
        };
        let auth = Arc::new(Authenticator::new(&config.users, config.token_ttl, clock));
        let limits = Arc::new(Limits::new(config));
        let executor = QueryExecutor::new("ecomsql-query", crate::config::cores())
            .map_err(|e| ServeError::Setup(format!("query executor: {e}")))?;
        let service = EcomsqlFlightService::new(
            ctx,
            Arc::clone(&auth),
            Arc::clone(&limits),
            Arc::new(executor),
        )
        .map_err(|s| ServeError::Setup(s.message().to_string()))?;
        Ok(Self {
            service,
            limits,
            open: auth.is_open(),
            tls,
            grace: config.shutdown_grace,
        })
    }

    /// Watches the number of queries running (tests wait on it; nothing polls).
    pub fn running_queries(&self) -> watch::Receiver<usize> {
        self.limits.running()
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting and lets running
    /// queries finish for up to the grace period before returning.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let addr = listener
            .local_addr()
            .map_err(|e| ServeError::Transport(e.to_string()))?;
        if self.open && !addr.ip().is_loopback() {
            return Err(ServeError::OpenNonLoopback(addr));
        }
        let tls = self.tls.is_some();
        let mut builder = tonic::transport::Server::builder();
        if let Some(identity) = self.tls {
            builder = builder
                .tls_config(ServerTlsConfig::new().identity(identity))
                .map_err(|e| ServeError::Setup(format!("TLS: {e}")))?;
        }
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let serve = builder
            .add_service(
                FlightServiceServer::new(self.service)
                    .max_decoding_message_size(64 << 20)
                    .max_encoding_message_size(64 << 20),
            )
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            });
        tracing::info!(target: "ecomsql::flight", %addr, tls, open = self.open, "listening");
        tokio::pin!(serve);
        tokio::select! {
            r = &mut serve => return r.map_err(|e| ServeError::Transport(e.to_string())),
            () = shutdown => {}
        }
        let _ = stop_tx.send(true);
        let running = *self.limits.running().borrow();
        tracing::info!(target: "ecomsql::flight", running, grace_s = self.grace.as_secs(), "shutting down");
        match tokio::time::timeout(self.grace, serve).await {
            Ok(r) => r.map_err(|e| ServeError::Transport(e.to_string())),
            Err(_) => {
                let left = *self.limits.running().borrow();
                tracing::warn!(target: "ecomsql::flight", left, "grace period over; stopping running queries");
                Ok(())
            }
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::TlsFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
