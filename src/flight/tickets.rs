//! The server's queries by ticket: planned by GetFlightInfo and waiting for their DoGet,
//! running, or recently ended. A ticket's handle is the query's id: DoGet runs it (once), and
//! a cancel (CancelFlightInfo, or the deprecated CancelQuery) finds it by the FlightInfo's
//! ticket, whatever state it is in.
//!
//! What a cancel answers, following the `CancelStatus` documentation of Flight.proto:
//!
//! | the query | answer |
//! |---|---|
//! | waiting for its DoGet | `CANCELLED`; a later DoGet fails with `CANCELLED` |
//! | running (or waiting for a slot) | `CANCELLED` once its stream and slot are released; `CANCELLING` in the rare instant the stream is mid-poll (retrying then gives `CANCELLED`) |
//! | cancelled before | `CANCELLED` again (the action is idempotent) |
//! | ended otherwise (finished, failed, timed out, dropped by its client) | `NOT_CANCELLABLE` |
//! | unknown, or ended more than [`TICKET_TTL`] ago | `NOT_FOUND` error (the spec asks for it rather than `UNSPECIFIED`) |
//! | another user's, and the caller is not an admin | `PERMISSION_DENIED` error |
//!
//! To add a state: add it to [`State`] and decide its row in the table above in
//! [`Tickets::cancel`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_flight::CancelStatus;
use tonic::Status;

use super::auth::Caller;
use super::prepared::{MAX_PREPARED, new_handle};
use super::roles::Role;
use super::running::{LiveQuery, log_cancelled_unrun};
use crate::statements::Planned;

/// How long a planned query waits for its DoGet before it is dropped, and how long an ended
/// query is remembered (so a late cancel gets `NOT_CANCELLABLE` rather than `NOT_FOUND`).
pub const TICKET_TTL: Duration = Duration::from_secs(600);

/// Most tickets kept at once (waiting, running and remembered); past it, the remembered ones
/// are forgotten first, then planning a query fails.
pub const MAX_TICKETS: usize = MAX_PREPARED;

/// A query planned by GetFlightInfo, as DoGet takes it.
pub struct Ticketed {
    /// The plan.
    pub planned: Planned,
    /// The query as a cancel reaches it.
    pub live: Arc<LiveQuery>,
    /// Its place in the table: ends it when dropped.
    pub registration: Registration,
}

enum State {
    /// Planned; no DoGet yet.
    Waiting(Planned),
    /// A DoGet took it: waiting for a slot, or streaming.
    Running(Arc<LiveQuery>),
    /// Over; `Some(user)` when `user` cancelled it.
    Ended(Option<String>),
}

struct Entry {
    owner: String,
    /// When it entered its state.
    since: Instant,
    state: State,
}

/// The queries by ticket id (see the module docs).
#[derive(Default)]
pub struct Tickets {
    entries: Mutex<HashMap<String, Entry>>,
}

fn unknown_ticket() -> Status {
    Status::not_found("unknown or already used ticket: call GetFlightInfo again")
}

impl Tickets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a planned query of `owner`; returns its ticket id. Waiting and ended tickets
    /// older than [`TICKET_TTL`] are dropped.
    pub fn insert(&self, owner: &str, planned: Planned) -> Result<String, Status> {
        let mut entries = self.lock();
        entries
            .retain(|_, e| matches!(e.state, State::Running(_)) || e.since.elapsed() < TICKET_TTL);
        if entries.len() >= MAX_TICKETS {
            entries.retain(|_, e| !matches!(e.state, State::Ended(_)));
        }
        if entries.len() >= MAX_TICKETS {
            return Err(Status::resource_exhausted(
                "too many queries planned and not fetched; fetch (DoGet) or drop them",
            ));
        }
        let id = new_handle();
        entries.insert(
            id.clone(),
            Entry {
                owner: owner.to_string(),
                since: Instant::now(),
                state: State::Waiting(planned),
            },
        );
        Ok(id)
    }

    /// Takes the query ticket `id` names to run it, if `user` planned it. A query cancelled
    /// before its DoGet fails with `CANCELLED`.
    pub fn start(self: &Arc<Self>, user: &str, id: &[u8]) -> Result<Ticketed, Status> {
        let id = std::str::from_utf8(id).map_err(|_| unknown_ticket())?;
        let mut entries = self.lock();
        let entry = match entries.get_mut(id) {
            Some(e) if e.owner == user => e,
            _ => return Err(unknown_ticket()),
        };
        match &entry.state {
            State::Waiting(_) => {}
            State::Ended(Some(by)) => return Err(LiveQuery::cancelled_status(id, by)),
            State::Running(_) | State::Ended(None) => return Err(unknown_ticket()),
        }
        let live = LiveQuery::new(id);
        let State::Waiting(planned) =
            std::mem::replace(&mut entry.state, State::Running(Arc::clone(&live)))
        else {
            unreachable!("checked above");
        };
        entry.since = Instant::now();
        Ok(Ticketed {
            planned,
            live,
            registration: Registration {
                tickets: Arc::clone(self),
                id: id.to_string(),
            },
        })
    }

    /// Cancels the query ticket `id` names on behalf of `caller`: its owner, or an admin.
    pub fn cancel(&self, caller: &Caller, id: &[u8]) -> Result<CancelStatus, Status> {
        let unknown = || {
            Status::not_found(
                "unknown query: no query has this ticket (never planned, or ended long ago)",
            )
        };
        let id = std::str::from_utf8(id).map_err(|_| unknown())?;
        let mut entries = self.lock();
        let entry = entries.get_mut(id).ok_or_else(unknown)?;
        if entry.owner != caller.user && caller.role != Role::Admin {
            return Err(Status::permission_denied(format!(
                "query {id} belongs to another user: only they or an admin may cancel it"
            )));
        }
        match &entry.state {
            State::Waiting(planned) => {
                let kind = planned.kind();
                let planned_at = entry.since;
                entry.state = State::Ended(Some(caller.user.clone()));
                entry.since = Instant::now();
                let owner = entry.owner.clone();
                drop(entries);
                let status = LiveQuery::cancelled_status(id, &caller.user);
                log_cancelled_unrun(id, &owner, kind, planned_at, &status);
                Ok(CancelStatus::Cancelled)
            }
            State::Running(live) => {
                let live = Arc::clone(live);
                // Released outside the table's lock.
                drop(entries);
                Ok(if live.cancel(&caller.user) {
                    CancelStatus::Cancelled
                } else {
                    CancelStatus::Cancelling
                })
            }
            State::Ended(Some(_)) => Ok(CancelStatus::Cancelled),
            State::Ended(None) => Ok(CancelStatus::NotCancellable),
        }
    }

    fn finish(&self, id: &str) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(id)
            && let State::Running(live) = &entry.state
        {
            entry.state = State::Ended(live.cancelled_by().map(str::to_string));
            entry.since = Instant::now();
        }
    }
}

/// A running query's place in the [`Tickets`]: dropping it (when the DoGet stream goes, or
/// DoGet fails before streaming) marks the query ended.
pub struct Registration {
    tickets: Arc<Tickets>,
    id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.tickets.finish(&self.id);
    }
}
