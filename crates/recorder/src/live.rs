//! One open recording: its `.part` file and the small window of frames not yet committed.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::finalize::{part_path, sync_dir, wav_path};
use crate::format::{self, MAX_BLOCK_FRAMES, MAX_WAV_FRAMES, PartHeader};
use crate::{Micros, RecorderError, SAMPLE_RATE, io_err};

/// Frames kept back from each commit so packets that arrive slightly out of order
/// (jitter, two channels from different sockets) still land: 200 ms.
pub(crate) const REORDER_MARGIN: u64 = SAMPLE_RATE as u64 / 5;

/// Most frames the window may span: 10 s. A timestamp jump further ahead commits what is
/// buffered and moves the window instead of allocating for the gap, which is silence.
pub(crate) const MAX_WINDOW: u64 = SAMPLE_RATE as u64 * 10;

/// A run of silent frames at least this long splits a block, so holds and one-sided
/// silence are not stored as zeros: 200 ms.
const ZERO_RUN_SPLIT: usize = SAMPLE_RATE as usize / 5;

/// Index of the frame that audio at `t` lands on: round((t - start) × 8000 / 10⁶).
/// Computed in i128 so no pair of i64 times can overflow.
pub(crate) fn frame_index(start: Micros, t: Micros) -> i128 {
    let d = i128::from(t) - i128::from(start);
    (2 * d * i128::from(SAMPLE_RATE) + 1_000_000).div_euclid(2_000_000)
}

/// Whole frames in `d` (rounded down, so progress is never claimed early), clamped to what a
/// recording can hold.
pub(crate) fn frames_in(d: Duration) -> u64 {
    let n = d.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000;
    u64::try_from(n).unwrap_or(u64::MAX).min(MAX_WAV_FRAMES)
}

/// `frame_index` clamped to what a recording can hold.
pub(crate) fn clamp_index(i: i128) -> u64 {
    i.clamp(0, i128::from(MAX_WAV_FRAMES)) as u64
}

pub(crate) struct Live {
    pub record_id: i64,
    pub start: Micros,
    path: PathBuf,
    file: File,
    /// When the file was created: the recording has lasted at least the time since then,
    /// whether or not any audio came.
    opened: Instant,
    /// How far the records appended so far say the recording got (end of the last block or
    /// progress marker), so a marker is only written when it says more.
    reached: u64,
    /// Bytes known good in the file; a failed append is cut back to this.
    file_len: u64,
    /// Index of `window[0]`: the first frame not yet committed.
    base: u64,
    window: Vec<[i16; 2]>,
    /// One past the highest frame written on either channel.
    highest: u64,
    /// Blackouts, as frame ranges [from, to).
    silences: Vec<(u64, u64)>,
    /// Appended since the last fdatasync.
    dirty: bool,
    /// The file's directory entry has not been synced yet (see [`Live::create`]).
    entry_unsynced: bool,
    /// Samples dropped because their frames were already committed.
    pub late_samples: u64,
    /// Frames lost because an append failed (disk full, I/O error).
    pub lost_frames: u64,
}

impl Live {
    /// Creates `<id>.part` with its header. The file and its directory entry reach the disk
    /// with the first periodic sync (within one commit interval) rather than here: starting
    /// a recording then costs no fsync, and a kill loses nothing (the page cache survives
    /// it); only a power cut in that first half second can lose the empty file, which
    /// recovery treats as a recording without audio.
    pub fn create(dir: &Path, record_id: i64, start: Micros) -> Result<Live, RecorderError> {
        let wav = wav_path(dir, record_id);
        if wav.exists() {
            return Err(RecorderError::Exists(record_id));
        }
        let path = part_path(dir, record_id);
        // create_new: an existing `.part` is another (or crashed, not yet recovered)
        // recording with this id, and must not be truncated.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err("create recording file", &path, e))?;
        let header = format::encode_header(PartHeader { record_id, start });
        file.write_all_at(&header, 0)
            .map_err(|e| io_err("write recording file", &path, e))?;
        Ok(Live {
            record_id,
            start,
            path,
            file,
            opened: Instant::now(),
            reached: 0,
            file_len: header.len() as u64,
            base: 0,
            window: Vec::new(),
            highest: 0,
            silences: Vec::new(),
            dirty: true,
            entry_unsynced: true,
            late_samples: 0,
            lost_frames: 0,
        })
    }

    /// Places `pcm` for `channel` starting at time `at`. Samples before the start of the
    /// recording, in committed frames or in a blackout are dropped.
    pub fn write(&mut self, channel: usize, at: Micros, pcm: &[i16]) {
        if channel > 1 || pcm.is_empty() {
            return;
        }
        let first = frame_index(self.start, at);
        let begin = clamp_index(first);
        let end = clamp_index(first + pcm.len() as i128);
        if begin >= end {
            return;
        }
        let mut from = begin;
        if from < self.base {
            let late = self.base.min(end) - from;
            self.late_samples += late;
            from = self.base.min(end);
        }
        // Chunks of at most MAX_WINDOW frames, so one huge buffer cannot grow the window
        // past its bound either.
        while from < end {
            let to = end.min(from + MAX_WINDOW);
            self.make_room(to);
            // `first` may be negative (audio from before the start), so offset from it.
            let off = (i128::from(from) - first) as usize;
            let src = &pcm[off..off + (to - from) as usize];
            let w = (from - self.base) as usize;
            for (slot, &s) in self.window[w..w + src.len()].iter_mut().zip(src) {
                slot[channel] = s;
            }
            self.blank_silences(from, to);
            self.highest = self.highest.max(to);
            from = to;
        }
    }

    /// Makes the window reach frame `to`, committing first if it would span too much.
    fn make_room(&mut self, to: u64) {
        if to > self.base + MAX_WINDOW {
            self.commit(to - MAX_WINDOW);
        }
        let need = (to - self.base) as usize;
        if self.window.len() < need {
            self.window.resize(need, [0, 0]);
        }
    }

    /// Records a blackout: persisted at once (it must survive a crash, and it also has to
    /// blank audio already committed, which finalization does), and blanked in the window so
    /// the audio never reaches the disk.
    pub fn silence(&mut self, from: Micros, to: Micros) {
        let from = clamp_index(frame_index(self.start, from));
        let to = clamp_index(frame_index(self.start, to));
        if from >= to {
            return;
        }
        self.silences.push((from, to));
        self.blank_silences(from, to);
        let rec = format::encode_silence(from, to);
        if self.append(&rec) {
            if let Err(e) = self.file.sync_data() {
                tracing::error!(
                    record_id = self.record_id,
                    path = %self.path.display(),
                    error = %e,
                    "cannot sync a blackout to the recording file"
                );
            } else {
                self.dirty = false;
            }
        } else {
            // Still honoured by the window for audio not committed yet; the committed part
            // cannot be blanked without the record, so say so loudly.
            tracing::error!(
                record_id = self.record_id,
                from,
                to,
                "blackout could not be written; audio already committed for it may remain"
            );
        }
    }

    /// Zeros both channels of the window where it overlaps [from, to) and a blackout.
    fn blank_silences(&mut self, from: u64, to: u64) {
        let win_end = self.base + self.window.len() as u64;
        for &(s, e) in &self.silences {
            let lo = s.max(from).max(self.base);
            let hi = e.min(to).min(win_end);
            if lo < hi {
                let a = (lo - self.base) as usize;
                let b = (hi - self.base) as usize;
                self.window[a..b].fill([0, 0]);
            }
        }
    }

    /// The periodic commit: everything older than the reorder margin, how far the recording
    /// has got, then fdatasync.
    pub fn tick(&mut self) {
        self.commit(self.highest.saturating_sub(REORDER_MARGIN));
        self.mark_progress();
        self.sync();
    }

    /// Appends a progress marker (a zero-frame block) at the wall-clock time elapsed since
    /// the recording was opened, when that is past what the file already records. A
    /// recording without audio (a CTI call whose media nobody captures) would otherwise
    /// recover with no length at all; one whose audio runs ahead of wall time (a replay at
    /// maximum speed) needs no marker, its committed blocks already say more. Audio is not
    /// affected: the marker is not a commit, so the window and the reorder margin stay as
    /// they are, and finish cuts or pads to its own end time regardless.
    pub fn mark_progress(&mut self) {
        let now = frames_in(self.opened.elapsed());
        if now <= self.reached {
            return;
        }
        let mut buf = Vec::with_capacity(format::BLOCK_HEADER_LEN);
        format::encode_block(now, &[], &mut buf);
        if self.append(&buf) {
            self.reached = now;
        }
    }

    /// Commits every buffered frame and syncs; used by finish and on shutdown.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        self.commit(self.highest.max(self.base + self.window.len() as u64));
        self.file
            .sync_data()
            .map_err(|e| io_err("sync recording file", &self.path, e))?;
        self.dirty = false;
        Ok(())
    }

    fn sync(&mut self) {
        if !self.dirty {
            return;
        }
        if self.entry_unsynced {
            let synced = self.file.sync_all().is_ok()
                && self.path.parent().is_some_and(|d| sync_dir(d).is_ok());
            self.entry_unsynced = !synced;
        }
        match self.file.sync_data() {
            Ok(()) => self.dirty = false,
            Err(e) => tracing::error!(
                record_id = self.record_id,
                path = %self.path.display(),
                error = %e,
                "cannot sync recording file"
            ),
        }
    }

    /// Appends frames [base, cut) as blocks and advances the window to `cut`. Frames past
    /// the buffered ones are silence and are not stored; a zero-length block marks how far
    /// the recording got when its tail is silent, so recovery knows the real duration.
    fn commit(&mut self, cut: u64) {
        if cut <= self.base {
            return;
        }
        let n = ((cut - self.base) as usize).min(self.window.len());
        let frames = &self.window[..n];
        let mut buf = Vec::with_capacity(n * 4 + 64);
        let mut last_end = self.base;
        for (s, e) in segments(frames) {
            let first = self.base + s as u64;
            format::encode_block(first, &frames[s..e], &mut buf);
            last_end = self.base + e as u64;
        }
        if last_end < cut {
            format::encode_block(cut, &[], &mut buf);
        }
        if self.append(&buf) {
            // The last block ends at `cut`, or a marker says it was reached.
            self.reached = self.reached.max(cut);
        } else {
            self.lost_frames += n as u64;
        }
        self.window.drain(..n);
        self.base = cut;
    }

    /// Appends bytes at the end of the file; on failure cuts the file back so a torn record
    /// cannot hide the records appended after it from recovery. Returns whether it worked.
    fn append(&mut self, bytes: &[u8]) -> bool {
        match self.file.write_all_at(bytes, self.file_len) {
            Ok(()) => {
                self.file_len += bytes.len() as u64;
                self.dirty = true;
                true
            }
            Err(e) => {
                tracing::error!(
                    record_id = self.record_id,
                    path = %self.path.display(),
                    error = %e,
                    "cannot append to recording file; audio is lost"
                );
                if let Err(e) = self.file.set_len(self.file_len) {
                    tracing::error!(error = %e, "cannot cut back a failed append");
                }
                false
            }
        }
    }
}

/// Splits frames into the runs worth storing: leading/trailing silence dropped, split at
/// silent runs of ZERO_RUN_SPLIT frames or more, and at MAX_BLOCK_FRAMES.
fn segments(frames: &[[i16; 2]]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let n = frames.len();
    let mut i = 0;
    while i < n {
        while i < n && frames[i] == [0, 0] {
            i += 1;
        }
        if i == n {
            break;
        }
        let s = i;
        let mut last = i;
        while i < n && i - s < MAX_BLOCK_FRAMES as usize {
            if frames[i] != [0, 0] {
                last = i;
            } else if i - last >= ZERO_RUN_SPLIT {
                break;
            }
            i += 1;
        }
        out.push((s, last + 1));
        i = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_index_rounds_to_nearest() {
        assert_eq!(frame_index(0, 0), 0);
        assert_eq!(frame_index(0, 62), 0);
        assert_eq!(frame_index(0, 63), 1);
        assert_eq!(frame_index(0, 125), 1);
        assert_eq!(frame_index(1000, 1000 + 1_000_000), 8000);
        assert_eq!(frame_index(0, -125), -1);
        assert!(frame_index(i64::MIN, i64::MAX) > 0);
    }

    #[test]
    fn segments_skip_silence() {
        let mut f = vec![[0i16, 0]; 5000];
        f[10] = [1, 0];
        f[20] = [0, 2];
        f[4000] = [3, 3];
        assert_eq!(segments(&f), vec![(10, 21), (4000, 4001)]);
        assert!(segments(&vec![[0, 0]; 100]).is_empty());
    }
}
