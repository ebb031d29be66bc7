//! The engine: the one owner of live state — devices, their call instances, the recordings
//! being made and the channels they hold. Commands and capture events are applied one at a
//! time under one lock, so every result follows from the state and never from a race. Catalog
//! writes are queued in the order they were applied; a command's answer waits until they are
//! durable (group-committed by the store) after the lock is released, while capture events
//! wait for theirs on a separate task.

mod blackout;
mod calls;
mod events;
mod media;
mod meta;
mod recovery;
mod sessions;
mod state;
mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use recorder::Recorder;
use store::Store;
use tokio::sync::Mutex;
use wire::Code;

pub use events::{Event, EventData, EventKind};
pub use meta::MetaUpdate;
pub use state::{CallView, ChannelView, DeviceView, InstanceView};
pub use status::EngineStatus;
pub use store::Micros;

/// A refused command: the result code and a message that says what was wrong.
/// Rendered by the server as the `<RESULT>` document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.label())]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        tracing::error!(error = %e, "catalog error");
        ApiError::new(
            Code::DatabaseQueryError,
            "the catalog could not be read or written",
        )
    }
}

/// The directory's refusals as result codes; nothing was changed.
impl From<store::DirectoryError> for ApiError {
    fn from(e: store::DirectoryError) -> Self {
        use store::Refusal;
        let r = match e {
            store::DirectoryError::Store(e) => return e.into(),
            store::DirectoryError::Refused(r) => r,
        };
        match r {
            Refusal::DuplicateUser { user_id, what } => ApiError::new(
                Code::KeysNotUnique,
                format!("user {user_id} already has this {what}"),
            ),
            Refusal::UserNotFound => ApiError::new(Code::UserNotFound, "no such user"),
            Refusal::AgentNotFound => ApiError::new(Code::AgentNotFound, "no such agent"),
            Refusal::AgentNotActive { user_id } => ApiError::new(
                Code::AgentNotActive,
                format!("user {user_id} is not an active agent"),
            ),
            Refusal::PhoneHeld { user_id } => ApiError::new(
                Code::KeysNotUnique,
                format!("the phone is assigned to another agent ({user_id})"),
            ),
            Refusal::GroupNotFound => ApiError::new(Code::NoGroup, "no such group"),
            Refusal::RoleNotFound => ApiError::new(Code::RoleNotFound, "no such role"),
            Refusal::PhoneNotAgents { user_id } => ApiError::new(
                Code::DeviceInvalid,
                format!("the phone is not one of agent {user_id}'s phones"),
            ),
        }
    }
}

/// What the engine needs to know from the configuration.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// How many recordings may be open at once.
    pub channels: usize,
    /// Below this many free bytes on the recording disk, no recording starts (code 2).
    pub min_free_bytes: u64,
    /// Create a device on its first CALLSTART/RECORDSTART (else code 8).
    pub auto_create_devices: bool,
    /// Blackouts cover all of the agent's calls until BLACKOUTSTOP (agent mode), rather than
    /// only the call named (call mode).
    pub agent_blackouts: bool,
    /// How many events a client of the events port may fall behind before it loses some.
    pub event_queue: usize,
    /// KEEPDAYS and ARCHIVEACTION of a call's recordings when the request does not give them
    /// (chat sessions have their own, given by the server).
    pub keep_days: Option<i64>,
    pub archive_action: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            channels: 64,
            min_free_bytes: 512 * 1024 * 1024,
            auto_create_devices: true,
            agent_blackouts: true,
            event_queue: 1024,
            keep_days: None,
            archive_action: "DELETE".to_string(),
        }
    }
}

/// Wall-clock time now, in microseconds since the Unix epoch.
pub fn now_micros() -> Micros {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<state::State>,
    store: Store,
    recorder: Recorder,
    config: EngineConfig,
    started: Micros,
    /// Free and total bytes of the recording disk, refreshed off the async runtime
    /// (see [`Engine::refresh_disk`]) so starting a recording never blocks on statvfs.
    disk_free: AtomicU64,
    disk_total: AtomicU64,
}

impl Engine {
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn recorder(&self) -> &Recorder {
        &self.inner.recorder
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Reads the recording disk's free space (blocking; call from a blocking thread).
    pub fn refresh_disk(&self) {
        match self.inner.recorder.disk_space() {
            Ok((free, total)) => {
                self.inner.disk_free.store(free, Ordering::Relaxed);
                self.inner.disk_total.store(total, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read free disk space"),
        }
    }

    fn disk(&self) -> (u64, u64) {
        (
            self.inner.disk_free.load(Ordering::Relaxed),
            self.inner.disk_total.load(Ordering::Relaxed),
        )
    }
}
