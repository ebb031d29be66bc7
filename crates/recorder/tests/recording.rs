//! Recording through the public API and checking the finished WAV sample by sample.

mod common;

use std::time::Duration;

use common::*;
use recorder::{Recorder, RecorderError};

/// Feeds `[first, first+len)` of the pattern to `channel` in 20 ms packets.
fn feed(rec: &Recorder, id: i64, channel: usize, first: u64, len: u64) {
    let mut i = first;
    while i < first + len {
        let n = 160.min(first + len - i);
        rec.audio(id, channel, at(i), chunk(channel, i, n));
        i += n;
    }
}

#[test]
fn channels_gaps_and_reordering_land_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert!(recovered.is_empty());
    let rt = runtime();
    rt.block_on(rec.open(7, START)).unwrap();

    // Channel 0: first second, then a 1 s gap, then 16000..24000 sent in swapped pairs of
    // packets (each pair is 40 ms, well inside the reorder margin).
    feed(&rec, 7, 0, 0, 8000);
    let mut i = 16000;
    while i < 24000 {
        rec.audio(7, 0, at(i + 160), chunk(0, i + 160, 160));
        rec.audio(7, 0, at(i), chunk(0, i, 160));
        i += 320;
    }
    // Channel 1: 4000..12000, timestamps a little off the sample grid (rounding to nearest).
    let mut i = 4000;
    while i < 12000 {
        rec.audio(7, 1, at(i) + 40, chunk(1, i, 160));
        i += 160;
    }
    // Unknown channel and unknown recording are ignored.
    rec.audio(7, 2, at(0), vec![9; 160]);
    rec.audio(8, 0, at(0), vec![9; 160]);

    let done = rt.block_on(rec.finish(7, START + 3_500_000)).unwrap();
    assert_eq!(done.record_id, 7);
    assert_eq!(done.samples, 28000);
    assert_eq!(done.duration_ms, 3500);
    assert_eq!(done.path, dir.path().join("7.wav"));
    assert!(!dir.path().join("7.part").exists());
    assert!(!dir.path().join("7.wav.tmp").exists());

    let frames = read_wav(&done.path);
    assert_eq!(frames.len(), 28000);
    assert_frames(&frames, |ch, i| match ch {
        0 => i < 8000 || (16000..24000).contains(&i),
        _ => (4000..12000).contains(&i),
    });
}

#[test]
fn late_audio_is_dropped_and_audio_within_margin_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    rt.block_on(rec.open(1, START)).unwrap();
    feed(&rec, 1, 0, 0, 16000);
    // Let a commit run: frames up to 16000 - 1600 are now on disk.
    std::thread::sleep(Duration::from_millis(800));
    feed(&rec, 1, 1, 0, 160); // 2 s late: dropped
    feed(&rec, 1, 1, 15000, 160); // 125 ms behind the newest frame: kept
    let done = rt.block_on(rec.finish(1, at(16000))).unwrap();
    let frames = read_wav(&done.path);
    assert_eq!(frames.len(), 16000);
    assert_frames(&frames, |ch, i| match ch {
        0 => true,
        _ => (15000..15160).contains(&i),
    });
}

#[test]
fn audio_before_start_is_clipped_and_blackouts_are_silent() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    rt.block_on(rec.open(3, START)).unwrap();

    // A packet starting 10 ms (80 frames) before the start: only its second half lands.
    let early: Vec<i16> = (0..160)
        .map(|k| if k < 80 { 555 } else { pattern(0, k - 80) })
        .collect();
    rec.audio(3, 0, START - 10_000, early);
    feed(&rec, 3, 0, 80, 24000 - 80);
    feed(&rec, 3, 1, 0, 24000);
    // Wait for a commit, so the first blackout covers audio already in the file, the second
    // covers audio still buffered, and the third audio that arrives after the call.
    std::thread::sleep(Duration::from_millis(800));
    rec.silence(3, at(8000), at(12000));
    rec.silence(3, at(23200), at(23600));
    rec.silence(3, at(32000), at(36000));
    feed(&rec, 3, 0, 24000, 16000);
    feed(&rec, 3, 1, 24000, 16000);
    // Spans that are empty or before the start change nothing.
    rec.silence(3, at(100), at(100));
    rec.silence(3, START - 2_000_000, START - 1_000_000);

    let done = rt.block_on(rec.finish(3, at(40000))).unwrap();
    let frames = read_wav(&done.path);
    assert_eq!(frames.len(), 40000);
    let blacked = |i: u64| {
        (8000..12000).contains(&i) || (23200..23600).contains(&i) || (32000..36000).contains(&i)
    };
    assert_frames(&frames, |_, i| !blacked(i));
}

#[test]
fn finish_cuts_or_pads_to_the_end_time() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    rt.block_on(rec.open(4, START)).unwrap();
    feed(&rec, 4, 0, 0, 8000);
    let done = rt.block_on(rec.finish(4, at(4000))).unwrap();
    let frames = read_wav(&done.path);
    assert_eq!(frames.len(), 4000);
    assert_frames(&frames, |ch, _| ch == 0);

    rt.block_on(rec.open(5, START)).unwrap();
    feed(&rec, 5, 1, 0, 800);
    let done = rt.block_on(rec.finish(5, at(12000))).unwrap();
    let frames = read_wav(&done.path);
    assert_eq!(frames.len(), 12000);
    assert_frames(&frames, |ch, i| ch == 1 && i < 800);

    rt.block_on(rec.open(6, START)).unwrap();
    feed(&rec, 6, 0, 0, 800);
    let done = rt.block_on(rec.finish(6, START - 1)).unwrap();
    assert_eq!(done.samples, 0);
    assert_eq!(read_wav(&done.path).len(), 0);
}

#[test]
fn a_long_timestamp_jump_is_stored_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    rt.block_on(rec.open(9, START)).unwrap();
    let jump = 8000 * 60 * 20; // 20 minutes
    feed(&rec, 9, 0, 0, 800);
    feed(&rec, 9, 1, jump, 800);
    feed(&rec, 9, 0, jump + 400, 800);
    std::thread::sleep(Duration::from_millis(800));
    let part = std::fs::metadata(dir.path().join("9.part")).unwrap().len();
    assert!(part < 64 * 1024, "the gap must not be stored: {part} bytes");

    let done = rt.block_on(rec.finish(9, at(jump + 8000))).unwrap();
    assert_eq!(done.samples, jump + 8000);
    assert_eq!(done.duration_ms, 20 * 60 * 1000 + 1000);
    // Check the interesting regions straight from the bytes (the file is 38 MB).
    let wav = std::fs::read(&done.path).unwrap();
    assert_eq!(wav.len() as u64, 44 + (jump + 8000) * 4);
    let frame = |i: u64| {
        let o = 44 + i as usize * 4;
        [
            i16::from_le_bytes([wav[o], wav[o + 1]]),
            i16::from_le_bytes([wav[o + 2], wav[o + 3]]),
        ]
    };
    for i in (0..1000).chain(jump - 100..jump + 8000) {
        let want0 = if i < 800 || (jump + 400..jump + 1200).contains(&i) {
            pattern(0, i)
        } else {
            0
        };
        let want1 = if (jump..jump + 800).contains(&i) {
            pattern(1, i)
        } else {
            0
        };
        assert_eq!(frame(i), [want0, want1], "frame {i}");
    }
    assert!(
        wav[44 + 4000..44 + (jump as usize - 100) * 4]
            .iter()
            .all(|&b| b == 0)
    );
}

#[test]
fn open_and_finish_refuse_what_they_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    assert!(matches!(
        rt.block_on(rec.finish(42, START)),
        Err(RecorderError::NotOpen(42))
    ));
    rt.block_on(rec.open(42, START)).unwrap();
    assert!(matches!(
        rt.block_on(rec.open(42, START)),
        Err(RecorderError::AlreadyOpen(42))
    ));
    rt.block_on(rec.finish(42, at(800))).unwrap();
    assert!(matches!(
        rt.block_on(rec.finish(42, at(800))),
        Err(RecorderError::NotOpen(42))
    ));
    // A finished recording is never overwritten by reusing its id.
    assert!(matches!(
        rt.block_on(rec.open(42, START)),
        Err(RecorderError::Exists(42))
    ));
    assert_eq!(read_wav(&dir.path().join("42.wav")).len(), 800);
}

#[test]
fn open_failure_names_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    std::fs::write(dir.path().join("11.part"), b"someone else's").unwrap();
    let err = runtime().block_on(rec.open(11, START)).unwrap_err();
    assert!(matches!(err, RecorderError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("create recording file"),
        "{err}"
    );
}

#[test]
fn disk_space_and_path_usable() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("recordings");
    let (rec, _) = Recorder::start(&sub).unwrap();
    assert_eq!(rec.dir(), sub);
    let (free, total) = rec.disk_space().unwrap();
    assert!(total > 0 && free <= total);
    assert!(rec.path_usable());
    assert_eq!(
        std::fs::read_dir(&sub)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != ".lock")
            .count(),
        0,
        "probe cleaned up"
    );
    std::fs::remove_dir_all(&sub).unwrap();
    assert!(!rec.path_usable());
    assert!(rec.disk_space().is_err());
}

#[test]
fn many_recordings_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    for id in 100..120 {
        rt.block_on(rec.open(id, START)).unwrap();
    }
    for id in 100..120 {
        feed(&rec, id, (id % 2) as usize, 0, 4000);
    }
    for id in 100..120 {
        let done = rt.block_on(rec.finish(id, at(4000))).unwrap();
        let frames = read_wav(&done.path);
        assert_frames(&frames, |ch, _| ch == (id % 2) as usize);
    }
}

#[test]
fn one_recorder_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    rt.block_on(rec.open(1, START)).unwrap();
    feed(&rec, 1, 0, 0, 4000);
    assert!(matches!(
        Recorder::start(dir.path()),
        Err(RecorderError::Locked(_))
    ));
    assert!(dir.path().join("1.part").exists(), "left alone");
    // Dropping the last handle flushes the open recording and frees the directory; the
    // next start finalizes it with everything that was buffered.
    let clone = rec.clone();
    drop(rec);
    assert!(matches!(
        Recorder::start(dir.path()),
        Err(RecorderError::Locked(_))
    ));
    drop(clone);
    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert_eq!(recovered.len(), 1);
    // As long as the audio, or as the time the recording was open if a progress marker
    // said more (a slow machine).
    let frames = read_wav(&recovered[0].path);
    assert!(frames.len() >= 4000, "{} frames", frames.len());
    assert_frames(&frames, |ch, i| ch == 0 && i < 4000);
}

#[test]
fn the_handle_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Recorder>();
    fn error_is_sendable<T: Send + Sync + std::error::Error + 'static>() {}
    error_is_sendable::<RecorderError>();
}

#[test]
fn a_recording_is_unfinished_until_its_wav_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    assert!(!rec.unfinished(3), "never opened");
    rt.block_on(rec.open(3, START)).unwrap();
    feed(&rec, 3, 0, 0, 800);
    assert!(rec.unfinished(3), "open");
    rt.block_on(rec.finish(3, START + 100_000)).unwrap();
    assert!(!rec.unfinished(3), "finished");
    assert!(dir.path().join("3.wav").exists());
}
