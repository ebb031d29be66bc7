//! What a crash leaves behind, and what `Recorder::start` makes of it.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use recorder::Recorder;

/// Feeds both channels from frame 0 in 20 ms packets at real time, for `frames` frames.
fn feed_paced(rec: &Recorder, id: i64, frames: u64, mut after_each: impl FnMut(u64)) {
    let t0 = Instant::now();
    let mut i = 0;
    while i < frames {
        rec.audio(id, 0, at(i), chunk(0, i, 160));
        rec.audio(id, 1, at(i), chunk(1, i, 160));
        i += 160;
        after_each(i);
        let due = t0 + Duration::from_micros(i * 125);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

/// Frames in `secs` seconds, rounded down.
fn frames_in(secs: f64) -> u64 {
    (secs * 8000.0) as u64
}

/// What the disk holds for a recording that is still open: records 3 s, waits for commits,
/// and copies the `.part` as a crash at that moment would leave it. Also returns the
/// seconds from just before the open to the copy: how long the recording had been open.
fn crashed_part(silence: Option<(u64, u64)>) -> (Vec<u8>, f64) {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let opening = Instant::now();
    runtime().block_on(rec.open(77, START)).unwrap();
    feed_paced(&rec, 77, 24000, |_| {});
    if let Some((from, to)) = silence {
        rec.silence(77, at(from), at(to));
    }
    std::thread::sleep(Duration::from_millis(1200));
    let part = fs::read(dir.path().join("77.part")).unwrap();
    (part, opening.elapsed().as_secs_f64())
}

/// The file says the recording got within a second below `open` seconds, never past it.
fn assert_reached(recs: &[Rec], open: f64) {
    let end = data_end(recs);
    assert!(
        end <= frames_in(open) && end + 8000 >= frames_in(open),
        "the file says frame {end}; the recording was open {open:.3} s"
    );
}

fn recover(bytes: &[u8]) -> (tempfile::TempDir, Vec<recorder::Recovered>) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("77.part"), bytes).unwrap();
    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    (dir, recovered)
}

#[test]
fn a_crash_keeps_every_committed_frame() {
    let (part, open) = crashed_part(None);
    let (id, start, recs) = parse_part(&part);
    assert_eq!((id, start), (77, START));
    // Everything but the 200 ms reorder margin was committed while the recording idled...
    assert_eq!(audio_end(&recs), 24000 - 1600);
    let audio_blocks: Vec<usize> = (0..recs.len())
        .filter(|&k| matches!(recs[k], Rec::Block { frames, .. } if frames > 0))
        .collect();
    assert!(
        audio_blocks.len() > 3,
        "committed in several blocks: {recs:?}"
    );
    // ...and progress markers say how long it has been open, though no audio came lately.
    assert_reached(&recs, open);
    let reached = data_end(&recs);

    let (dir, recovered) = recover(&part);
    assert_eq!(recovered.len(), 1);
    let r = &recovered[0];
    assert_eq!(r.record_id, 77);
    assert_eq!(r.start, START);
    assert_eq!(r.path, dir.path().join("77.wav"));
    assert_eq!(r.duration_ms, (reached / 8) as i64);
    eprintln!(
        "open {open:.3} s with 3 s of audio; recovered {:.3} s",
        r.duration_ms as f64 / 1000.0
    );
    let frames = read_wav(&r.path);
    assert_eq!(frames.len() as u64, reached);
    assert_frames(&frames, |_, i| i < 22400);
    assert!(!dir.path().join("77.part").exists());

    // Truncated in the middle of the last audio block: that block goes, with all after it;
    // the earlier ones stay.
    let k = *audio_blocks.last().unwrap();
    let cut = recs[k].offset() + recs[k].len() / 2;
    let before = data_end(&recs[..k]);
    let audio_before = audio_end(&recs[..k]);
    let (_dir, recovered) = recover(&part[..cut]);
    assert_eq!(recovered[0].duration_ms, (before / 8) as i64);
    let frames = read_wav(&recovered[0].path);
    assert_eq!(frames.len() as u64, before);
    assert_frames(&frames, |_, i| i < audio_before);

    // A checksum failure in a middle audio block ends the recording just before it.
    let mid = audio_blocks[audio_blocks.len() / 2];
    let mut bad = part.clone();
    bad[recs[mid].offset() + 30] ^= 0x01;
    let before = data_end(&recs[..mid]);
    let audio_before = audio_end(&recs[..mid]);
    let (_dir, recovered) = recover(&bad);
    let frames = read_wav(&recovered[0].path);
    assert_eq!(frames.len() as u64, before);
    assert_frames(&frames, |_, i| i < audio_before);
}

/// Opens a recording that never receives audio (a call known only from CTI) and copies its
/// `.part` as a crash after about 2.5 s would leave it.
#[test]
fn a_silent_recording_recovers_with_the_time_it_was_open() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    let opening = Instant::now();
    rt.block_on(rec.open(78, START)).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let part = fs::read(dir.path().join("78.part")).unwrap();
    let open = opening.elapsed().as_secs_f64();
    let (_, _, recs) = parse_part(&part);
    assert_eq!(audio_end(&recs), 0, "no audio was stored: {recs:?}");
    assert!(
        recs.len() <= 6,
        "one 20-byte marker per commit at most: {recs:?}"
    );
    assert_reached(&recs, open);

    // A clean finish is unaffected by the markers: exactly the length asked for, even one
    // shorter than they say.
    let done = rt.block_on(rec.finish(78, at(4000))).unwrap();
    assert_eq!(done.samples, 4000);
    let frames = read_wav(&done.path);
    assert_eq!(frames.len(), 4000);
    assert_frames(&frames, |_, _| false);
    drop(rec);

    fs::write(dir.path().join("78.part"), &part).unwrap();
    fs::remove_file(dir.path().join("78.wav")).unwrap();
    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert_eq!(recovered.len(), 1);
    let r = &recovered[0];
    assert_eq!(r.record_id, 78);
    let secs = r.duration_ms as f64 / 1000.0;
    eprintln!("silent recording open {open:.3} s; recovered {secs:.3} s");
    assert!(
        secs <= open && secs >= open - 1.0,
        "recovered {secs:.3} s of a recording open {open:.3} s"
    );
    let frames = read_wav(&r.path);
    assert_eq!(frames.len() as u64, data_end(&recs));
    assert_frames(&frames, |_, _| false);
}

#[test]
fn a_blackout_survives_a_crash() {
    let (part, open) = crashed_part(Some((4000, 8000)));
    let (_, _, recs) = parse_part(&part);
    assert_reached(&recs, open);
    assert!(recs.iter().any(|r| matches!(
        r,
        Rec::Silence {
            from: 4000,
            to: 8000,
            ..
        }
    )));
    let (_dir, recovered) = recover(&part);
    let frames = read_wav(&recovered[0].path);
    assert_eq!(frames.len() as u64, data_end(&recs));
    assert_frames(&frames, |_, i| i < 22400 && !(4000..8000).contains(&i));
}

#[test]
fn a_hand_written_part_is_recovered_by_the_documented_format() {
    let a: Vec<[i16; 2]> = (0..100).map(|i| [pattern(0, i), pattern(1, i)]).collect();
    let b: Vec<[i16; 2]> = (300..400).map(|i| [pattern(0, i), 0]).collect();
    let mut part = part_header(-5, START);
    part.extend(part_block(300, &b)); // out of order on purpose
    part.extend(part_block(0, &a));
    part.extend(part_silence(50, 60));
    part.extend(part_block(1000, &[])); // progress marker: silent until frame 1000
    part.extend(b"CVBK\x00\x00"); // torn tail
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("-5.part"), &part).unwrap();
    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].record_id, -5);
    assert_eq!(recovered[0].duration_ms, 125);
    let frames = read_wav(&recovered[0].path);
    assert_eq!(frames.len(), 1000);
    assert_frames(&frames, |ch, i| {
        (i < 100 && !(50..60).contains(&i)) || (ch == 0 && (300..400).contains(&i))
    });
}

#[test]
fn a_crash_after_the_rename_reports_the_finished_file() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::start(dir.path()).unwrap();
    let rt = runtime();
    rt.block_on(rec.open(12, START)).unwrap();
    rec.audio(12, 0, START, chunk(0, 0, 8000));
    let part = {
        // Copy the .part as it is before finish, then finish, then put the copy back: the
        // state after a crash between the rename and the removal.
        std::thread::sleep(Duration::from_millis(700));
        fs::read(dir.path().join("12.part")).unwrap()
    };
    rt.block_on(rec.finish(12, at(16000))).unwrap();
    drop(rec);
    fs::write(dir.path().join("12.part"), part).unwrap();
    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(
        recovered[0].duration_ms, 2000,
        "from the finished file, not the segments"
    );
    assert_eq!(recovered[0].start, START);
    assert!(!dir.path().join("12.part").exists());
    assert_eq!(read_wav(&dir.path().join("12.wav")).len(), 16000);
}

#[test]
fn broken_headers_are_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad_crc = part_header(1, START);
    bad_crc[10] ^= 0xff;
    fs::write(dir.path().join("1.part"), bad_crc).unwrap();
    fs::write(dir.path().join("2.part"), b"").unwrap();
    fs::write(dir.path().join("3.part"), part_header(4, START)).unwrap(); // id mismatch
    fs::write(dir.path().join("notanid.part"), part_header(5, START)).unwrap();
    fs::write(dir.path().join("6.part"), part_header(6, START)).unwrap(); // valid, empty
    let (rec, recovered) = Recorder::start(dir.path()).unwrap();
    drop(rec);
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].record_id, 6);
    assert_eq!(recovered[0].duration_ms, 0);
    for name in ["1", "2", "3", "notanid"] {
        assert!(!dir.path().join(format!("{name}.part")).exists());
        assert!(
            dir.path().join(format!("{name}.part.corrupt")).exists(),
            "{name}"
        );
    }
    // A second broken file with the same name does not overwrite the first one set aside.
    fs::write(dir.path().join("1.part"), b"junk").unwrap();
    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert!(recovered.is_empty());
    assert!(dir.path().join("1.part.corrupt.1").exists());
}

/// xorshift, so the fuzz cases are the same on every run.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_and_damaged_files_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let good = {
        let mut p = part_header(9, START);
        for k in 0..5u64 {
            let f: Vec<[i16; 2]> = (0..50).map(|i| [pattern(0, k * 50 + i), 1]).collect();
            p.extend(part_block(k * 50, &f));
            p.extend(part_silence(k, k + 3));
        }
        p
    };
    let dir = tempfile::tempdir().unwrap();
    for case in 0..200 {
        let bytes: Vec<u8> = if case % 2 == 0 {
            let n = (rng(&mut seed) % 2000) as usize;
            let mut b: Vec<u8> = (0..n).map(|_| rng(&mut seed) as u8).collect();
            if case % 4 == 0 {
                // A valid header with garbage after it exercises the record reader.
                let h = part_header(9, START);
                b.splice(0..0, h);
            }
            b
        } else {
            let mut b = good.clone();
            for _ in 0..1 + rng(&mut seed) % 4 {
                let i = (rng(&mut seed) as usize) % b.len();
                b[i] = rng(&mut seed) as u8;
            }
            let keep = (rng(&mut seed) as usize) % (b.len() + 1);
            b.truncate(keep.max(b.len() / 2));
            b
        };
        fs::write(dir.path().join("9.part"), &bytes).unwrap();
        let _ = fs::remove_file(dir.path().join("9.wav"));
        let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
        assert!(recovered.len() <= 1);
        assert!(
            !dir.path().join("9.part").exists(),
            "case {case} left the .part"
        );
        if let Some(r) = recovered.first() {
            let frames = read_wav(&r.path);
            assert_eq!(frames.len() as i64 / 8, r.duration_ms);
        }
    }
}

const CHILD_ENV: &str = "CALLVAULT_RECORDER_CRASH_CHILD_DIR";
const SILENT_CHILD_ENV: &str = "CALLVAULT_RECORDER_SILENT_CHILD_DIR";

/// Child mode for `sigkill_loses_at_most_the_last_second`: records until killed, printing
/// how many frames it has handed to the recorder. Does nothing in a normal test run.
#[test]
fn child_records_until_killed() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (rec, _) = Recorder::start(Path::new(&dir)).unwrap();
    runtime().block_on(rec.open(99, START)).unwrap();
    // Bounded, so a child whose parent died does not run forever.
    feed_paced(&rec, 99, 8000 * 30, |fed| println!("fed {fed}"));
}

/// Child mode for `sigkill_of_a_silent_recording_keeps_its_length`: opens a recording,
/// says so, and waits without audio until killed. Does nothing in a normal test run.
#[test]
fn child_waits_silently_until_killed() {
    let Ok(dir) = std::env::var(SILENT_CHILD_ENV) else {
        return;
    };
    let (rec, _) = Recorder::start(Path::new(&dir)).unwrap();
    runtime().block_on(rec.open(98, START)).unwrap();
    // On the harness's "test ... " line: the parent matches the end of the line.
    println!("opened");
    // Bounded, so a child whose parent died does not run forever.
    std::thread::sleep(Duration::from_secs(30));
    drop(rec);
}

/// Runs this test binary's child-mode test `name` with `env` set to a fresh directory.
fn spawn_child(name: &str, env: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_loses_at_most_the_last_second() {
    let dir = tempfile::tempdir().unwrap();
    // The recording is opened after this, so it was open for less than `spawned.elapsed()`.
    let spawned = Instant::now();
    let mut child = spawn_child("child_records_until_killed", CHILD_ENV, dir.path());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut fed = 0u64;
    for line in lines.by_ref() {
        if let Some(n) = line.unwrap().strip_prefix("fed ") {
            fed = n.parse().unwrap();
            if fed >= 8000 * 3 + 800 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    let open_at_most = spawned.elapsed().as_secs_f64();
    // Whatever it printed before dying is how far it got.
    for line in lines {
        if let Some(n) = line.unwrap().strip_prefix("fed ") {
            fed = n.parse().unwrap();
        }
    }
    child.wait().unwrap();
    assert!(fed >= 8000 * 3, "child did not record: fed {fed}");

    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert_eq!(recovered.len(), 1);
    let frames = read_wav(&recovered[0].path);
    let n = frames.len() as u64;
    // The audio kept is a prefix of what was fed, short of it by at most a second; the
    // length may run past the audio, up to how long the recording was open.
    let kept = frames
        .iter()
        .rposition(|f| *f != [0, 0])
        .map_or(0, |i| i as u64 + 1);
    eprintln!(
        "fed {fed} frames, open < {open_at_most:.3} s; recovered {n} frames, {kept} with audio"
    );
    assert!(
        kept + 8000 >= fed,
        "lost more than a second: kept {kept} of {fed}"
    );
    assert!(kept <= fed);
    assert!(
        n <= frames_in(open_at_most),
        "{n} frames from a recording open less than {open_at_most:.3} s"
    );
    assert_frames(&frames, |_, i| i < kept);
}

#[test]
fn sigkill_of_a_silent_recording_keeps_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let spawned = Instant::now();
    let mut child = spawn_child(
        "child_waits_silently_until_killed",
        SILENT_CHILD_ENV,
        dir.path(),
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.by_ref().any(|l| l.unwrap().ends_with("opened")),
        "child did not open its recording"
    );
    // The recording was opened between `spawned` and now.
    let opened = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    let open_at_least = opened.elapsed().as_secs_f64();
    let open_at_most = spawned.elapsed().as_secs_f64();
    child.wait().unwrap();

    let (_rec, recovered) = Recorder::start(dir.path()).unwrap();
    assert_eq!(recovered.len(), 1);
    let r = &recovered[0];
    assert_eq!(r.record_id, 98);
    let secs = r.duration_ms as f64 / 1000.0;
    eprintln!(
        "silent recording open {open_at_least:.3}–{open_at_most:.3} s; recovered {secs:.3} s"
    );
    assert!(
        secs >= open_at_least - 1.0 && secs <= open_at_most,
        "recovered {secs:.3} s; open {open_at_least:.3}–{open_at_most:.3} s"
    );
    let frames = read_wav(&r.path);
    assert_eq!(frames.len() as i64 / 8, r.duration_ms);
    assert_frames(&frames, |_, _| false);
}
