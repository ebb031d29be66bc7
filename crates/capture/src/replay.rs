//! Replaying a capture file through the tracker on a tokio runtime.
//!
//! Reading and parsing the file happen on a blocking thread that feeds packets through a
//! bounded channel, so the runtime never waits on disk. The tracker runs in the async task,
//! which paces packets (real time) and forwards events; the bounded event channel gives
//! back-pressure at maximum speed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::pcap_reading::{self, RawPacket};
use crate::stats::{CaptureState, CaptureStats};
use crate::{CaptureError, MediaEvent, Tracker};

/// How fast a file is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speed {
    /// As fast as the receiver takes the events.
    Max,
    /// Capture time elapsed equals wall time elapsed since the first packet.
    Realtime,
}

/// Packets read ahead of the tracker.
const READ_AHEAD: usize = 1024;

/// Replays one pcap/pcapng file through the SIP/RTP path and sends the events in capture
/// order. Every dialog still open at the end ends at the last packet's time with reason
/// "end of capture". Damage after the file header (a truncated last packet) ends the file
/// there; a file that is not a capture is an error.
pub async fn replay_file(
    path: &Path,
    speed: Speed,
    events: mpsc::Sender<MediaEvent>,
    stats: Arc<CaptureStats>,
) -> Result<(), CaptureError> {
    stats.set_state(CaptureState::Running);
    let result = run(path, speed, &events, Arc::clone(&stats)).await;
    stats.set_state(match &result {
        Ok(()) => CaptureState::Finished,
        Err(e) => CaptureState::Failed(e.to_string()),
    });
    result
}

async fn run(
    path: &Path,
    speed: Speed,
    events: &mpsc::Sender<MediaEvent>,
    stats: Arc<CaptureStats>,
) -> Result<(), CaptureError> {
    let owned = path.to_path_buf();
    let mut reader = tokio::task::spawn_blocking(move || pcap_reading::open_file(&owned))
        .await
        .map_err(|e| CaptureError::ReaderFailed(e.to_string()))??;

    let (tx, mut rx) = mpsc::channel::<RawPacket>(READ_AHEAD);
    let reader_stats = Arc::clone(&stats);
    let path_for_log = path.to_path_buf();
    let reader_task = tokio::task::spawn_blocking(move || {
        for item in &mut reader {
            match item {
                Ok(packet) => {
                    if tx.blocking_send(packet).is_err() {
                        return; // the replay stopped
                    }
                }
                Err(damage) => {
                    // Counted as one dropped packet; the capture ends here, as a file cut
                    // short while being written does.
                    reader_stats.dropped_packets.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        file = %path_for_log.display(),
                        "{damage}; treating it as the end of the capture"
                    );
                    return;
                }
            }
        }
    });

    let mut tracker = Tracker::new(stats);
    let mut clock: Option<(Instant, i64)> = None;
    while let Some(packet) = rx.recv().await {
        if speed == Speed::Realtime {
            match clock {
                None => clock = Some((Instant::now(), packet.ts)),
                Some((start, first_ts)) => {
                    let offset = u64::try_from(packet.ts - first_ts).unwrap_or(0);
                    tokio::time::sleep_until(start + Duration::from_micros(offset)).await;
                }
            }
        }
        for event in tracker.packet(packet.ts, &packet.data, packet.linktype) {
            events
                .send(event)
                .await
                .map_err(|_| CaptureError::EventsClosed)?;
        }
    }
    reader_task
        .await
        .map_err(|e| CaptureError::ReaderFailed(e.to_string()))?;
    if let Some(last) = tracker.last_packet_ts() {
        for event in tracker.finish(last) {
            events
                .send(event)
                .await
                .map_err(|_| CaptureError::EventsClosed)?;
        }
    }
    Ok(())
}
