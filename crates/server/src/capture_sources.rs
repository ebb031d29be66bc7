//! Capture sources (pcap files for now) and their state, for SYSTEMSTATUS.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capture::{CaptureState, CaptureStats, Speed};
use engine::Engine;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::CaptureSpeed;

/// One capture source as SYSTEMSTATUS shows it.
pub struct Source {
    pub name: String,
    pub stats: Arc<CaptureStats>,
    /// FINISHED only once every event of the source is applied and stored, so a client that
    /// sees it can rely on CALLLIST and EXPORT.
    pub state: Mutex<CaptureState>,
}

#[derive(Clone, Default)]
pub struct CaptureSources {
    sources: Arc<Mutex<Vec<Arc<Source>>>>,
}

impl CaptureSources {
    pub fn list(&self) -> Vec<Arc<Source>> {
        self.sources.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Starts replaying each file; its events go to the engine in capture order.
    pub fn start(
        &self,
        files: &[PathBuf],
        speed: CaptureSpeed,
        delay: Duration,
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
                    state: Mutex::new(CaptureState::Running),
                });
                if let Ok(mut s) = self.sources.lock() {
                    s.push(source.clone());
                }
                tokio::spawn(replay(
                    file.clone(),
                    speed,
                    delay,
                    source,
                    engine.clone(),
                    stop.clone(),
                ))
            })
            .collect()
    }
}

/// Applies a file's events in order until it ends or the server stops. A stop is only
/// taken between events, so no event is ever half-applied.
async fn replay(
    file: PathBuf,
    speed: Speed,
    delay: Duration,
    source: Arc<Source>,
    engine: Engine,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = stop.changed() => return,
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stats = source.stats.clone();
    let reader = tokio::spawn(async move { capture::replay_file(&file, speed, tx, stats).await });
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
        Ok(Ok(())) => CaptureState::Finished,
        Ok(Err(e)) => CaptureState::Failed(e.to_string()),
        Err(e) => CaptureState::Failed(e.to_string()),
    };
    match &state {
        CaptureState::Failed(why) => {
            tracing::error!(source = %source.name, %why, "capture failed");
            engine
                .alert(&format!("capture source {} failed: {why}", source.name))
                .await;
        }
        _ => tracing::info!(source = %source.name, "capture finished"),
    }
    if let Ok(mut s) = source.state.lock() {
        *s = state;
    }
}
