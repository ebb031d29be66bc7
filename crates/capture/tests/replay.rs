//! The async replay of files.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use capture::{CaptureState, CaptureStats, MediaEvent, Side, Speed, replay_file};
use common::{capture, micros, track};

async fn collect(path: &std::path::Path, speed: Speed) -> (Vec<MediaEvent>, Arc<CaptureStats>) {
    // A small channel, so the replay has to wait for the receiver (back-pressure).
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let stats = Arc::new(CaptureStats::default());
    let owned = path.to_path_buf();
    let task_stats = Arc::clone(&stats);
    let task = tokio::spawn(async move { replay_file(&owned, speed, tx, task_stats).await });
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    task.await.expect("task").expect("replay ok");
    (events, stats)
}

#[tokio::test]
async fn max_speed_replay_gives_the_tracker_events() {
    let path = capture("sip-call-rtp-g711.pcap");
    let (events, stats) = collect(&path, Speed::Max).await;
    assert_eq!(events, track(&path));
    let snap = stats.snapshot();
    assert_eq!(snap.state, CaptureState::Finished);
    assert_eq!(snap.packets, 4269);
    assert_eq!(snap.calls, 2);
    // 891 + 548 packets of the answered call, 14 SIP messages (INVITE, 100, 180, 200,
    // ACK, 3 × REGISTER/200 pairs, and the second call's INVITE, 100, 180).
    assert_eq!(snap.sip_messages, 14);
    assert!(snap.rtp_packets >= 891 + 548);
    let last = events.last().expect("events");
    assert!(matches!(last, MediaEvent::DialogEnded { reason, .. } if reason == "end of capture"));
    // Order is capture order: started, answered, audio, ended.
    let first_audio = events
        .iter()
        .position(|e| {
            matches!(
                e,
                MediaEvent::Audio {
                    side: Side::Callee,
                    ..
                }
            )
        })
        .expect("audio");
    assert!(matches!(events[0], MediaEvent::DialogStarted { .. }));
    assert!(
        matches!(events[1], MediaEvent::DialogAnswered { at, .. } if at == micros("1105725491.443869"))
    );
    assert!(first_audio > 1);
}

#[tokio::test]
async fn realtime_replay_takes_capture_time() {
    // The TCP call spans 6.53 s; replay only its first 0.07 s (INVITE to 180 Ringing at
    // 0.064948 s) by cutting the file after frame 8.
    let bytes = std::fs::read(capture("sip-over-tcp.pcap")).expect("read");
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut pos = 24;
    for _ in 0..8 {
        pos += 16 + u32le(&bytes[pos + 8..]);
    }
    let dir = std::env::temp_dir().join(format!("callvault-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("ringing.pcap");
    std::fs::write(&path, &bytes[..pos]).expect("write");

    let start = Instant::now();
    let (events, _) = collect(&path, Speed::Realtime).await;
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(69), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(events.len(), 2, "{events:?}"); // started, then ended at end of capture
}

#[tokio::test]
async fn truncated_file_replays_to_its_damage() {
    // Cut in the middle of the 200 OK's record: the call rang but was never answered.
    let bytes = std::fs::read(capture("sip-call-rtp-g711.pcap")).expect("read");
    let dir = std::env::temp_dir().join(format!("callvault-replay-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut pos = 24;
    for _ in 0..497 {
        pos += 16 + u32le(&bytes[pos + 8..]);
    }
    let path = dir.join("cut.pcap");
    std::fs::write(&path, &bytes[..pos + 100]).expect("write");
    let (events, stats) = collect(&path, Speed::Max).await;
    let snap = stats.snapshot();
    assert_eq!(snap.state, CaptureState::Finished);
    assert_eq!(snap.packets, 497);
    assert_eq!(snap.dropped_packets, 1, "the cut record");
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(&events[1], MediaEvent::DialogEnded { reason, .. } if reason == "end of capture")
    );
}
