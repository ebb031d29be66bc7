//! Turning a `.part` into its `.wav`, both on `finish` and when recovering after a crash.
//!
//! One code path serves both, so what a crash leaves behind is finalized exactly as a clean
//! stop would have been, minus the torn tail.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::format::{
    self, BYTES_PER_FRAME, HEADER_LEN, MAX_WAV_FRAMES, PartHeader, ScanError, WAV_HEADER_LEN,
};
use crate::{RecorderError, Recovered, io_err};

pub(crate) fn part_path(dir: &Path, record_id: i64) -> PathBuf {
    dir.join(format!("{record_id}.part"))
}

pub(crate) fn wav_path(dir: &Path, record_id: i64) -> PathBuf {
    dir.join(format!("{record_id}.wav"))
}

fn tmp_path(dir: &Path, record_id: i64) -> PathBuf {
    dir.join(format!("{record_id}.wav.tmp"))
}

/// Makes renames, creations and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), RecorderError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("sync recordings directory", dir, e))
}

/// Result of a finalization.
pub(crate) struct Final {
    pub header: PartHeader,
    pub path: PathBuf,
    pub frames: u64,
}

/// Streams the valid blocks of `<id>.part` into `<id>.wav` and removes the `.part`.
///
/// The WAV lasts `length` frames if given (a clean finish), else until the end of the last
/// valid block (recovery). Blocks are written at their own offsets into a file pre-sized with
/// zeros, so gaps cost nothing and the order of blocks in the `.part` does not matter.
/// Memory use is one block, whatever the recording's length.
pub(crate) fn finalize(
    dir: &Path,
    record_id: i64,
    length: Option<u64>,
) -> Result<Final, RecorderError> {
    let part = part_path(dir, record_id);
    let src = File::open(&part).map_err(|e| io_err("open recording file", &part, e))?;
    let scan = match format::scan(&src) {
        Ok(s) => s,
        Err(ScanError::Io(e)) => return Err(io_err("read recording file", &part, e)),
        Err(ScanError::Header(reason)) => {
            return Err(RecorderError::Corrupt { path: part, reason });
        }
    };
    if let Some(reason) = scan.stopped {
        tracing::warn!(
            record_id,
            path = %part.display(),
            reason,
            "recording file ends in an invalid record; keeping the audio before it"
        );
    }
    let mut frames = length.unwrap_or(scan.data_end);
    if frames > MAX_WAV_FRAMES {
        tracing::warn!(
            record_id,
            frames,
            "recording is longer than a WAV can hold; cutting it"
        );
        frames = MAX_WAV_FRAMES;
    }

    let tmp = tmp_path(dir, record_id);
    let out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| io_err("create finished file", &tmp, e))?;
    let write = |e| io_err("write finished file", &tmp, e);
    out.write_all_at(&format::wav_header(frames), 0)
        .map_err(write)?;
    out.set_len(WAV_HEADER_LEN + frames * BYTES_PER_FRAME)
        .map_err(write)?;

    let mut payload = Vec::new();
    for b in &scan.blocks {
        let end = (b.first + u64::from(b.frames)).min(frames);
        if b.first >= end {
            continue;
        }
        let n = (end - b.first) as usize;
        payload.resize(n * BYTES_PER_FRAME as usize, 0);
        src.read_exact_at(&mut payload, b.payload_offset)
            .map_err(|e| io_err("read recording file", &part, e))?;
        // Blackouts are applied here as well as on the live window, because audio
        // committed before `silence` was called is already in the `.part`.
        for &(from, to) in &scan.silences {
            let lo = from.max(b.first);
            let hi = to.min(end);
            if lo < hi {
                let a = ((lo - b.first) * BYTES_PER_FRAME) as usize;
                let z = ((hi - b.first) * BYTES_PER_FRAME) as usize;
                payload[a..z].fill(0);
            }
        }
        out.write_all_at(&payload, WAV_HEADER_LEN + b.first * BYTES_PER_FRAME)
            .map_err(write)?;
    }
    out.sync_all()
        .map_err(|e| io_err("sync finished file", &tmp, e))?;
    drop(out);

    let wav = wav_path(dir, record_id);
    fs::rename(&tmp, &wav).map_err(|e| io_err("rename finished file", &wav, e))?;
    sync_dir(dir)?;
    // The WAV is durable from here on; a crash before the removal just leaves a `.part`
    // that recovery deletes on seeing the WAV.
    drop(src);
    fs::remove_file(&part).map_err(|e| io_err("remove recording file", &part, e))?;
    sync_dir(dir)?;
    Ok(Final {
        header: scan.header,
        path: wav,
        frames,
    })
}

/// Milliseconds of audio in `frames` stereo frames at 8 kHz.
pub(crate) fn frames_to_ms(frames: u64) -> i64 {
    i64::try_from(frames / 8).unwrap_or(i64::MAX)
}

/// Recovers every `<id>.part` in `dir`. Files that cannot be recovered are logged and left
/// (or set aside as `.part.corrupt`); only failing to list the directory is an error.
pub(crate) fn recover_dir(dir: &Path) -> Result<Vec<Recovered>, RecorderError> {
    let entries = fs::read_dir(dir).map_err(|e| io_err("list recordings directory", dir, e))?;
    let mut parts = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("list recordings directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".part") {
            parts.push((stem.to_owned(), entry.path()));
        }
    }
    parts.sort();
    let mut recovered = Vec::new();
    for (stem, path) in parts {
        match recover_one(dir, &stem, &path) {
            Ok(Some(r)) => {
                tracing::info!(
                    record_id = r.record_id,
                    duration_ms = r.duration_ms,
                    path = %r.path.display(),
                    "recovered a recording left open"
                );
                recovered.push(r);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot recover a recording file; leaving it"),
        }
    }
    Ok(recovered)
}

fn recover_one(dir: &Path, stem: &str, part: &Path) -> Result<Option<Recovered>, RecorderError> {
    let Ok(record_id) = stem.parse::<i64>() else {
        set_aside(part, "file name is not a record id")?;
        return Ok(None);
    };
    let header = {
        let f = File::open(part).map_err(|e| io_err("open recording file", part, e))?;
        let mut b = [0u8; HEADER_LEN];
        let n = read_prefix(&f, &mut b).map_err(|e| io_err("read recording file", part, e))?;
        match format::decode_header(&b[..n]) {
            Ok(h) if h.record_id == record_id => h,
            Ok(_) => {
                set_aside(part, "record id in header does not match file name")?;
                return Ok(None);
            }
            Err(reason) => {
                set_aside(part, reason)?;
                return Ok(None);
            }
        }
    };

    let wav = wav_path(dir, record_id);
    match fs::metadata(&wav) {
        Ok(m) => {
            // Crash between the rename and removing the `.part`: the WAV is complete.
            fs::remove_file(part).map_err(|e| io_err("remove recording file", part, e))?;
            sync_dir(dir)?;
            return Ok(Some(Recovered {
                record_id,
                path: wav,
                duration_ms: crate::wav_duration_ms(m.len()),
                start: header.start,
            }));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspect finished file", &wav, e)),
    }

    let done = finalize(dir, record_id, None)?;
    Ok(Some(Recovered {
        record_id,
        path: done.path,
        duration_ms: frames_to_ms(done.frames),
        start: done.header.start,
    }))
}

fn read_prefix(f: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Renames an unreadable `.part` to `.part.corrupt` (never overwriting an earlier one) so
/// a person can look at it, and start-up is not blocked by it again.
fn set_aside(part: &Path, reason: &str) -> Result<(), RecorderError> {
    let with_suffix = |suffix: &str| {
        let mut s = part.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let mut target = with_suffix(".corrupt");
    let mut n = 1;
    while target.exists() {
        target = with_suffix(&format!(".corrupt.{n}"));
        n += 1;
    }
    tracing::error!(
        path = %part.display(),
        moved_to = %target.display(),
        reason,
        "recording file has a broken header; setting it aside"
    );
    fs::rename(part, &target).map_err(|e| io_err("set aside corrupt recording file", part, e))
}
