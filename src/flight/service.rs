//! The `FlightSqlService` implementation: every call is authenticated, planned through the
//! statement layer (the same one the shell uses) under the caller's role, and run under the
//! server's limits.
//!
//! Queries: GetFlightInfo plans the statement and keeps the plan under a ticket
//! ([`Tickets`]); DoGet runs it and streams the batches. The advertised schema is the one the
//! encoder sends (dictionaries hydrated), so clients see exactly what they were told.
//! Prepared statements: create (plan to a logical plan with `$n` placeholders), bind (DoPut),
//! execute (GetFlightInfo + DoGet, or DoPut for updates), close. Updates (CREATE MODEL, DDL)
//! run to completion in DoPut. Metadata comes from [`super::metadata`].
//!
//! Cancellation: the Flight action `CancelFlightInfo` (what arrow-flight's
//! `FlightClient::cancel_flight_info` sends) and the deprecated Flight SQL action `CancelQuery`
//! both carry the query's FlightInfo; its ticket names the query in [`Tickets`], which stops it
//! whether its DoGet is streaming, waiting for a slot, or not called yet. arrow-flight 59's
//! `FlightSqlService` has a method for `CancelQuery` only, so `CancelFlightInfo` is served from
//! `do_action_fallback` and listed through `list_custom_actions`. Clients that cancel by closing
//! the DoGet stream (ADBC's Go-based driver cancels its call's context) stop the query too: see
//! [`super::running`].

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionCancelQueryRequest, ActionCancelQueryResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, CommandGetCatalogs,
    CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys,
    CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandPreparedStatementUpdate,
    CommandStatementQuery, CommandStatementUpdate, DoPutPreparedStatementResult, ProstMessageExt,
    SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, ActionType, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus,
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket, decode::FlightRecordBatchStream, flight_service_server::FlightService,
};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, UInt64Type};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Authenticator, Caller};
use super::errors::to_status;
use super::limits::Limits;
use super::metadata;
use super::prepared::{Prepared, PreparedStatements, new_handle};
use super::roles::RolePolicy;
use super::running::{LiveQuery, RunningQuery, log_cancelled_unrun, log_refused};
use super::tickets::{Ticketed, Tickets};
use crate::executor::QueryExecutor;
use crate::plain_types::{plain_batch, plain_schema};
use crate::statements::{LogicalStatement, Planned, plan_logical};

type DoGetStream = <EcomsqlFlightService as FlightService>::DoGetStream;
type DoActionStream = <EcomsqlFlightService as FlightService>::DoActionStream;

/// The Flight action that cancels a query (Flight.proto; arrow-flight 59 has no constant).
pub const CANCEL_FLIGHT_INFO: &str = "CancelFlightInfo";

/// The Flight SQL service over one shared session.
#[derive(Clone)]
pub struct EcomsqlFlightService {
    ctx: SessionContext,
    auth: Arc<Authenticator>,
    limits: Arc<Limits>,
    prepared: Arc<PreparedStatements>,
    tickets: Arc<Tickets>,
    sql_info: Arc<SqlInfoData>,
    xdbc: Arc<XdbcTypeInfoData>,
    /// Runs the queries, apart from the runtime that serves gRPC ([`crate::executor`]).
    executor: Arc<QueryExecutor>,
}

/// The schema the encoder sends for `schema` (view types made plain, dictionaries hydrated to
/// their value types): what GetFlightInfo must advertise.
pub fn advertised_schema(schema: SchemaRef) -> SchemaRef {
    let schema = plain_schema(&schema);
    FlightDataEncoderBuilder::new()
        .with_schema(Arc::clone(&schema))
        .build(futures::stream::empty())
        .known_schema()
        .unwrap_or(schema)
}

fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?;
    Ok(bytes)
}

fn batch_stream(schema: SchemaRef, batch: Result<RecordBatch, Status>) -> DoGetStream {
    let batch = batch.map_err(|s| FlightError::Tonic(Box::new(s)));
    Box::pin(
        FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(futures::stream::once(async { batch }))
            .map_err(Status::from),
    )
}

impl EcomsqlFlightService {
    /// A service over `ctx` with these users and limits, running queries on `executor`.
    pub fn new(
        ctx: SessionContext,
        auth: Arc<Authenticator>,
        limits: Arc<Limits>,
        executor: Arc<QueryExecutor>,
    ) -> Result<Self, Status> {
        let timeout = limits
            .timeout
            .map_or(0, |t| i32::try_from(t.as_secs()).unwrap_or(i32::MAX));
        Ok(Self {
            sql_info: Arc::new(metadata::sql_info(&ctx, timeout)?),
            xdbc: Arc::new(metadata::xdbc_type_info()?),
            ctx,
            auth,
            limits,
            prepared: Arc::new(PreparedStatements::default()),
            tickets: Arc::new(Tickets::default()),
            executor,
        })
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.auth.check(request.metadata())
    }

    /// Parses and plans `sql` to a logical statement under the caller's role.
    async fn plan(&self, caller: &Caller, sql: &str) -> Result<LogicalStatement, Status> {
        let (ctx, sql, policy) = (self.ctx.clone(), sql.to_string(), RolePolicy(caller.role));
        self.executor
            .run(async move { plan_logical(&ctx, &sql, Arc::new(policy)).await })
            .await
            .map_err(|e| to_status(&e))
    }

    /// Plans `stmt` the rest of the way, on the executor like [`Self::plan`].
    async fn finish_planning(&self, stmt: LogicalStatement) -> datafusion::error::Result<Planned> {
        let ctx = self.ctx.clone();
        self.executor
            .run(async move { stmt.into_planned(&ctx).await })
            .await
    }

    /// Plans `stmt` fully and keeps it under a new ticket; the FlightInfo points at it.
    async fn flight_info(
        &self,
        caller: &Caller,
        stmt: LogicalStatement,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Status> {
        let planned = self
            .finish_planning(stmt)
            .await
            .map_err(|e| to_status(&e))?;
        let schema = advertised_schema(planned.schema());
        let id = self.tickets.insert(&caller.user, planned)?;
        let ticket = TicketStatementQuery {
            statement_handle: id.into(),
        };
        let endpoint =
            FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec()));
        FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(format!("encoding the result schema: {e}")))
            .map(|info| {
                info.with_endpoint(endpoint)
                    .with_descriptor(descriptor)
                    .with_ordered(true)
            })
    }

    /// Runs a statement to completion (DoPut updates); returns the affected row count: the
    /// `count` DataFusion's DML reports, otherwise the number of rows the statement produced.
    async fn run_update(&self, caller: &Caller, stmt: LogicalStatement) -> Result<i64, Status> {
        let started = Instant::now();
        let kind = stmt.kind();
        let planned = match self.finish_planning(stmt).await {
            Ok(p) => p,
            Err(e) => {
                let s = to_status(&e);
                log_refused(&caller.user, Some(kind), started, &s);
                return Err(s);
            }
        };
        let admission = self.limits.admit().await.inspect_err(|s| {
            log_refused(&caller.user, Some(kind), started, s);
        })?;
        let stream = self.execute(&planned)?;
        let mut running = RunningQuery::new(
            LiveQuery::new(new_handle()),
            stream,
            admission,
            &caller.user,
            kind,
            started,
            self.limits.timeout,
        );
        let schema = planned.schema();
        let is_count = schema.fields().len() == 1
            && schema.field(0).name() == "count"
            && schema.field(0).data_type() == &DataType::UInt64;
        let mut counted: i64 = 0;
        while let Some(batch) = running.next().await {
            let batch = batch.map_err(Status::from)?;
            if is_count {
                let c = batch.column(0).as_primitive::<UInt64Type>();
                counted += c.iter().flatten().sum::<u64>() as i64;
            }
        }
        Ok(if is_count {
            counted
        } else {
            running.rows() as i64
        })
    }

    /// Starts `planned` on the query executor under the per-query limits.
    fn execute(&self, planned: &Planned) -> Result<SendableRecordBatchStream, Status> {
        let task_ctx = self.limits.task_ctx(&self.ctx);
        self.executor
            .execute(|| planned.execute(task_ctx))
            .map_err(|e| to_status(&e))
    }

    /// Cancels the queries `info`'s tickets name, for `caller` (see [`Tickets::cancel`]).
    /// Tickets of metadata calls are not cancellable: they are answered in one piece.
    fn cancel(&self, caller: &Caller, info: &FlightInfo) -> Result<CancelStatus, Status> {
        let mut answer = None;
        for endpoint in &info.endpoint {
            let Some(ticket) = &endpoint.ticket else {
                continue;
            };
            let any = arrow_flight::sql::Any::decode(&*ticket.ticket).map_err(|_| {
                Status::invalid_argument(
                    "cancel: the FlightInfo's ticket is not a Flight SQL ticket",
                )
            })?;
            let status = match any.unpack::<TicketStatementQuery>() {
                Ok(Some(t)) => self.tickets.cancel(caller, &t.statement_handle)?,
                Ok(None) => CancelStatus::NotCancellable,
                Err(e) => return Err(Status::invalid_argument(format!("cancel: bad ticket: {e}"))),
            };
            // Several endpoints: the least finished answer.
            answer = Some(match (answer, status) {
                (Some(CancelStatus::Cancelling), _) | (_, CancelStatus::Cancelling) => {
                    CancelStatus::Cancelling
                }
                (Some(CancelStatus::Cancelled), _) | (_, CancelStatus::Cancelled) => {
                    CancelStatus::Cancelled
                }
                _ => status,
            });
        }
        let answer = answer
            .ok_or_else(|| Status::invalid_argument("cancel: the FlightInfo has no ticket"))?;
        tracing::info!(target: "ecomsql::flight", user = %caller.user, status = answer.as_str_name(), "cancel");
        Ok(answer)
    }

    fn prepared_update_stmt(
        &self,
        caller: &Caller,
        handle: &bytes::Bytes,
    ) -> Result<LogicalStatement, Status> {
        self.prepared.get(&caller.user, handle)?.bound()
    }
}

#[tonic::async_trait]
impl FlightSqlService for EcomsqlFlightService {
    type FlightService = EcomsqlFlightService;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let (token, caller) = self.auth.login(request.metadata()).await?;
        tracing::info!(target: "ecomsql::flight", user = %caller.user, role = %caller.role, "login");
        let header = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("token is not a valid header"))?;
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: token.into(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::iter([Ok(reply)])));
        response.metadata_mut().insert("authorization", header);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request)?;
        let started = Instant::now();
        let result = async {
            let stmt = self.plan(&caller, &query.query).await?;
            self.flight_info(&caller, stmt, request.into_inner()).await
        }
        .await;
        result
            .inspect_err(|s| log_refused(&caller.user, None, started, s))
            .map(Response::new)
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request)?;
        let started = Instant::now();
        let result = async {
            let prepared = self
                .prepared
                .get(&caller.user, &cmd.prepared_statement_handle)?;
            let stmt = prepared.bound()?;
            self.flight_info(&caller, stmt, request.into_inner()).await
        }
        .await;
        result
            .inspect_err(|s| log_refused(&caller.user, None, started, s))
            .map(Response::new)
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let started = Instant::now();
        let Ticketed {
            planned,
            live,
            registration,
        } = self.tickets.start(&caller.user, &ticket.statement_handle)?;
        let kind = planned.kind();
        // A cancel reaches a query waiting for its slot too.
        let admission = tokio::select! {
            admitted = self.limits.admit() => admitted.inspect_err(|s| {
                log_refused(&caller.user, Some(kind), started, s);
            })?,
            by = live.cancelled() => {
                let status = LiveQuery::cancelled_status(live.id(), &by);
                log_cancelled_unrun(live.id(), &caller.user, kind, started, &status);
                return Err(status);
            }
        };
        let stream = self.execute(&planned)?;
        let running = RunningQuery::new(
            live,
            stream,
            admission,
            &caller.user,
            kind,
            started,
            self.limits.timeout,
        )
        .registered(registration);
        // Plain types for clients that read no view types (`crate::plain_types`).
        let plain = plain_schema(&planned.schema());
        let encoder = FlightDataEncoderBuilder::new().with_schema(Arc::clone(&plain));
        let batches = running.map(move |batch| {
            batch.and_then(|b| plain_batch(b, &plain).map_err(FlightError::Arrow))
        });
        let flight = encoder.build(batches).map_err(Status::from);
        Ok(Response::new(Box::pin(flight)))
    }

    async fn do_put_statement_update(
        &self,
        cmd: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let caller = self.caller(&request)?;
        let started = Instant::now();
        let stmt = self
            .plan(&caller, &cmd.query)
            .await
            .inspect_err(|s| log_refused(&caller.user, None, started, s))?;
        self.run_update(&caller, stmt).await
    }

    async fn do_put_prepared_statement_update(
        &self,
        cmd: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let caller = self.caller(&request)?;
        let stmt = self.prepared_update_stmt(&caller, &cmd.prepared_statement_handle)?;
        self.run_update(&caller, stmt).await
    }

    async fn do_put_prepared_statement_query(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let caller = self.caller(&request)?;
        let prepared = self
            .prepared
            .get(&caller.user, &cmd.prepared_statement_handle)?;
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(
            request.into_inner().map_err(FlightError::from),
        )
        .try_collect()
        .await
        .map_err(|e| Status::invalid_argument(format!("reading bound parameters: {e}")))?;
        let values = prepared.values_from(&batches)?;
        self.prepared
            .bind(&caller.user, &cmd.prepared_statement_handle, values)?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(cmd.prepared_statement_handle),
        })
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let caller = self.caller(&request)?;
        let started = Instant::now();
        let stmt = self
            .plan(&caller, &query.query)
            .await
            .inspect_err(|s| log_refused(&caller.user, None, started, s))?;
        let parameters = stmt.parameters().map_err(|e| to_status(&e))?;
        let dataset_schema = advertised_schema(stmt.schema());
        let prepared = Prepared {
            owner: caller.user.clone(),
            statement: stmt,
            parameters,
            values: vec![],
        };
        let parameter_schema = prepared.parameter_schema();
        let handle = self.prepared.insert(prepared)?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into(),
            dataset_schema: schema_bytes(&dataset_schema)?,
            parameter_schema: if parameter_schema.fields().is_empty() {
                bytes::Bytes::new()
            } else {
                schema_bytes(&parameter_schema)?
            },
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let caller = self.caller(&request)?;
        self.prepared
            .close(&caller.user, &query.prepared_statement_handle)
    }

    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let caller = self.caller(&request)?;
        let info = FlightInfo::decode(query.info)
            .map_err(|e| Status::invalid_argument(format!("CancelQuery: bad FlightInfo: {e}")))?;
        // `CancelResult` (not exported by arrow-flight 59) numbers its values as `CancelStatus`
        // does: unspecified 0, cancelled 1, cancelling 2, not cancellable 3.
        let status = self.cancel(&caller, &info)?;
        Ok(ActionCancelQueryResult {
            result: status as i32,
        })
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<DoActionStream>, Status> {
        if request.get_ref().r#type != CANCEL_FLIGHT_INFO {
            return Err(Status::invalid_argument(format!(
                "do_action: unknown action {:?}",
                request.get_ref().r#type
            )));
        }
        let caller = self.caller(&request)?;
        // Flight actions carry the message itself, not wrapped in `Any`.
        let cancel = CancelFlightInfoRequest::decode(request.get_ref().body.clone())
            .map_err(|e| Status::invalid_argument(format!("CancelFlightInfo: bad request: {e}")))?;
        let info = cancel
            .info
            .ok_or_else(|| Status::invalid_argument("CancelFlightInfo: no FlightInfo"))?;
        let status = self.cancel(&caller, &info)?;
        let result = arrow_flight::Result::new(CancelFlightInfoResult::new(status).encode_to_vec());
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(result)]))))
    }

    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(vec![Ok(ActionType {
            r#type: CANCEL_FLIGHT_INFO.to_string(),
            description: "Cancels a query: its DoGet stream ends with CANCELLED.\n
                Request Message: CancelFlightInfoRequest\n
                Response Message: CancelFlightInfoResult"
                .into(),
        })])
    }

    // Metadata: GetFlightInfo answers with the builder's schema and a ticket that is the
    // command itself wrapped in `Any` (arrow-rs #5540: unwrapped tickets reach the fallback).

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        metadata_info(query.as_any().encode_to_vec(), &schema, request)
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        metadata_info(query.as_any().encode_to_vec(), &schema, request)
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        metadata_info(query.as_any().encode_to_vec(), &schema, request)
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        metadata_info(query.as_any().encode_to_vec(), &schema, request)
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder(&self.sql_info).schema();
        metadata_info(query.as_any().encode_to_vec(), &schema, request)
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder(&self.xdbc).schema();
        metadata_info(query.as_any().encode_to_vec(), &schema, request)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        Ok(Response::new(batch_stream(
            schema,
            metadata::catalogs(&self.ctx, query),
        )))
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        Ok(Response::new(batch_stream(
            schema,
            metadata::schemas(&self.ctx, query),
        )))
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        let batch = metadata::tables(&self.ctx, query).await;
        Ok(Response::new(batch_stream(schema, batch)))
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        Ok(Response::new(batch_stream(
            schema,
            metadata::table_types(query),
        )))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let builder = query.into_builder(&self.sql_info);
        let schema = builder.schema();
        let batch = builder
            .build()
            .map_err(|e| Status::internal(format!("building SqlInfo: {e}")));
        Ok(Response::new(batch_stream(schema, batch)))
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let builder = query.into_builder(&self.xdbc);
        let schema = builder.schema();
        let batch = builder
            .build()
            .map_err(|e| Status::internal(format!("building type info: {e}")));
        Ok(Response::new(batch_stream(schema, batch)))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        metadata_info(
            query.as_any().encode_to_vec(),
            &metadata::primary_keys_schema(),
            request,
        )
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        metadata_info(
            query.as_any().encode_to_vec(),
            &metadata::foreign_keys_schema(),
            request,
        )
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        metadata_info(
            query.as_any().encode_to_vec(),
            &metadata::foreign_keys_schema(),
            request,
        )
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        metadata_info(
            query.as_any().encode_to_vec(),
            &metadata::foreign_keys_schema(),
            request,
        )
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        Ok(Response::new(no_rows(metadata::primary_keys_schema())))
    }

    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        Ok(Response::new(no_rows(metadata::foreign_keys_schema())))
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        Ok(Response::new(no_rows(metadata::foreign_keys_schema())))
    }

    async fn do_get_cross_reference(
        &self,
        _query: CommandGetCrossReference,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        Ok(Response::new(no_rows(metadata::foreign_keys_schema())))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// An empty result with `schema` (key metadata: ecomsql declares no keys).
fn no_rows(schema: SchemaRef) -> DoGetStream {
    let batch = RecordBatch::new_empty(Arc::clone(&schema));
    batch_stream(schema, Ok(batch))
}

fn metadata_info(
    ticket: Vec<u8>,
    schema: &Schema,
    request: Request<FlightDescriptor>,
) -> Result<Response<FlightInfo>, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(ticket));
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding a metadata schema: {e}")))?
        .with_endpoint(endpoint)
        .with_descriptor(request.into_inner());
    Ok(Response::new(info))
}
