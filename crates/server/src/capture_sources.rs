//! Capture sources (pcap files for now) and their state, for SYSTEMSTATUS.
//!
//! A file replayed to its end is remembered in the catalog by its canonical path, size and
//! modification time, and is not replayed again at the next start unless it changed or
//! `capture.replay_again` is set. Path, size and time cost one `stat` and no read of the
//! file (which may be gigabytes), and every write to a file changes its modification time;
//! a hash of some blocks would cost reads and still miss a change elsewhere in the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use capture::{CaptureStats, CaptureStatsSnapshot, Speed};
use engine::Engine;
use store::{CaptureFile, Micros};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wire::values::{DateFormat, format_datetime};

use crate::config::CaptureSpeed;

/// Where a source stands, as SYSTEMSTATUS shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceState {
    Running,
    /// Read to its end; the message says why nothing was recorded, when nothing was.
    Finished(String),
    /// Not replayed: the same file was replayed to its end at this time.
    AlreadyReplayed(Micros),
    Failed(String),
}

/// One capture source as SYSTEMSTATUS shows it.
pub struct Source {
    pub name: String,
    pub stats: Arc<CaptureStats>,
    /// FINISHED only once every event of the source is applied and stored, so a client that
    /// sees it can rely on CALLLIST and EXPORT.
    pub state: Mutex<SourceState>,
}

#[derive(Clone, Default)]
pub struct CaptureSources {
    sources: Arc<Mutex<Vec<Arc<Source>>>>,
}

impl CaptureSources {
    pub fn list(&self) -> Vec<Arc<Source>> {
        self.sources.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Starts replaying each file; its events go to the engine in capture order. A file
    /// already replayed to its end is skipped unless `again`.
    pub fn start(
        &self,
        files: &[PathBuf],
        speed: CaptureSpeed,
        delay: Duration,
        again: bool,
        engine: &Engine,
        stop: &watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let speed = match speed {
            CaptureSpeed::Max => Speed::Max,
            CaptureSpeed::Realtime => Speed::Realtime,
        };
        files
            .iter()
            .map(|file| {
                let source = Arc::new(Source {
                    name: file.display().to_string(),
                    stats: Arc::new(CaptureStats::default()),
                    state: Mutex::new(SourceState::Running),
                });
                if let Ok(mut s) = self.sources.lock() {
                    s.push(source.clone());
                }
                tokio::spawn(replay(
                    file.clone(),
                    speed,
                    delay,
                    again,
                    source,
                    engine.clone(),
                    stop.clone(),
                ))
            })
            .collect()
    }
}

/// Applies a file's events in order until it ends or the server stops. A stop is only
/// taken between events, so no event is ever half-applied. Only a replay that reached the
/// end of the file is remembered, so one cut short is replayed whole at the next start.
async fn replay(
    file: PathBuf,
    speed: Speed,
    delay: Duration,
    again: bool,
    source: Arc<Source>,
    engine: Engine,
    mut stop: watch::Receiver<bool>,
) {
    // A file that cannot be read is not looked up: the replay says what is wrong with it.
    let identity = identify(&file).ok();
    if let (Some(identity), false) = (&identity, again) {
        match engine.store().capture_replayed_at(identity).await {
            Ok(None) => {}
            Ok(Some(at)) => {
                let when = format_datetime(at, chrono_tz::UTC, DateFormat::Iso);
                tracing::warn!(
                    source = %source.name,
                    "capture file already replayed to its end at {when}; skipped \
                     (--capture-replay-again replays it)"
                );
                set_state(&source, SourceState::AlreadyReplayed(at));
                return;
            }
            Err(e) => {
                let why = format!("cannot tell whether it was replayed before: {e}");
                tracing::error!(source = %source.name, %why, "capture failed");
                set_state(&source, SourceState::Failed(why));
                return;
            }
        }
    }
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = stop.changed() => return,
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stats = source.stats.clone();
    let path = file.clone();
    let reader = tokio::spawn(async move { capture::replay_file(&path, speed, tx, stats).await });
    let mut storing = Vec::new();
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = stop.changed() => None,
        };
        let Some(event) = event else { break };
        if let Some(task) = engine.media(event).await {
            storing.retain(|t: &JoinHandle<()>| !t.is_finished());
            storing.push(task);
        }
    }
    for task in storing {
        let _ = task.await;
    }
    if *stop.borrow() {
        reader.abort();
        return;
    }
    let state = match reader.await {
        Ok(Ok(())) => {
            // Every call is stored by now, so a crash after this line loses nothing.
            if let Some(identity) = &identity
                && let Err(e) = engine
                    .store()
                    .remember_capture_replayed(identity, engine::now_micros())
                    .await
            {
                tracing::error!(source = %source.name, error = %e,
                    "cannot remember that the capture was replayed; the next start replays it again");
            }
            let why = nothing_recorded(&source.stats.snapshot()).unwrap_or_default();
            if why.is_empty() {
                tracing::info!(source = %source.name, "capture finished");
            } else {
                tracing::warn!(source = %source.name, "capture finished: {why}");
            }
            SourceState::Finished(why)
        }
        Ok(Err(e)) => SourceState::Failed(e.to_string()),
        Err(e) => SourceState::Failed(e.to_string()),
    };
    if let SourceState::Failed(why) = &state {
        tracing::error!(source = %source.name, %why, "capture failed");
        engine
            .alert(&format!("capture source {} failed: {why}", source.name))
            .await;
    }
    set_state(&source, state);
}

fn set_state(source: &Source, state: SourceState) {
    if let Ok(mut s) = source.state.lock() {
        *s = state;
    }
}

/// What a later start compares to tell whether `file` is the one replayed before.
fn identify(file: &Path) -> std::io::Result<CaptureFile> {
    let path = file.canonicalize()?;
    let meta = path.metadata()?;
    let modified = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(CaptureFile {
        path: path.display().to_string(),
        size: meta.len(),
        modified: Micros::try_from(modified.as_micros()).unwrap_or(Micros::MAX),
    })
}

/// Why a capture read to its end made no call, from what it saw; `None` if it made one.
fn nothing_recorded(stats: &CaptureStatsSnapshot) -> Option<String> {
    if stats.calls > 0 {
        return None;
    }
    Some(if stats.stray_rtp_packets > 0 {
        format!(
            "{} ({}) were seen but no SIP call set them up; nothing recorded",
            counted(stats.stray_rtp_packets, "RTP packet"),
            counted(stats.stray_rtp_streams, "stream"),
        )
    } else if stats.sip_messages > 0 {
        format!(
            "{} but no INVITE started a call; nothing recorded",
            counted(stats.sip_messages, "SIP message"),
        )
    } else {
        format!(
            "no SIP and no RTP in {}; nothing recorded",
            counted(stats.packets, "packet")
        )
    })
}

/// "1 packet", "2 packets".
fn counted(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
