//! callvault recorder: crash-safe two-channel call recordings.
//!
//! Each open recording is an append-only `<id>.part` file of checksummed blocks (format
//! below), committed and fdatasynced every 500 ms, so a kill -9
//! loses at most about the last second of audio. `finish` streams the blocks into
//! `<id>.wav` (2 channels, 8 kHz, 16-bit PCM) through a temporary file, fsync and rename.
//! [`Recorder::start`] finalizes whatever a crash left open.
//!
//! All file I/O runs on one dedicated OS thread (plus a short-lived thread per finalization,
//! so writing a long WAV does not delay the other recordings' commits); the async methods
//! only wait for its answers.
//!
//! ## `.part` format
//! All integers little-endian.
//! ```text
//! header  (28 bytes): "CVPT" | version u16 = 1 | reserved u16 = 0 | record_id i64 | start µs i64
//!                     | crc32 u32 of the 24 bytes before it
//! records, each starting with a 4-byte tag:
//! block   (20 + 4n):  "CVBK" | first frame index u64 | frame count n u32 | crc32 u32
//!                     | n × (channel 0 i16, channel 1 i16); crc over tag, index, count, payload
//! silence (24 bytes): "CVSL" | from frame u64 | to frame u64 (exclusive) | crc32 u32 of the 20 before
//! ```
//! Frames no block covers are silence; a zero-frame block marks progress through a silent
//! tail. Reading stops at the first truncated, unknown or checksum-failing record.
//!
//! Each periodic commit also appends a progress marker at the wall-clock time elapsed since
//! the recording was opened whenever that is past what the file already records, so a
//! recording that receives no audio still recovers with its real length (less at most about
//! the last second).

mod finalize;
mod format;
mod live;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use tokio::sync::oneshot;

use crate::live::Live;

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// Frames per second of every recording.
pub const SAMPLE_RATE: u32 = 8000;

/// How often buffered audio is committed and fdatasynced.
const COMMIT_INTERVAL: Duration = Duration::from_millis(500);

/// A recording closed by [`Recorder::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub record_id: i64,
    /// The `.wav`.
    pub path: PathBuf,
    pub duration_ms: i64,
    /// Frames (samples per channel) in the WAV.
    pub samples: u64,
}

/// A recording a crash left open, finalized by [`Recorder::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub record_id: i64,
    /// The `.wav`.
    pub path: PathBuf,
    /// Up to the end of the last intact block or progress marker: how far the recording had
    /// got, by its audio or by the wall clock, at the last commit before the crash.
    pub duration_ms: i64,
    pub start: Micros,
}

#[derive(thiserror::Error, Debug)]
pub enum RecorderError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create recording file".
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("recording {0} is already open")]
    AlreadyOpen(i64),
    #[error("recording {0} already has a finished file")]
    Exists(i64),
    #[error("recording {0} is not open")]
    NotOpen(i64),
    #[error("corrupt recording file {}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: &'static str },
    #[error("the recorder has stopped")]
    Stopped,
    #[error("recordings directory {} is in use by another recorder", .0.display())]
    Locked(PathBuf),
}

pub(crate) fn io_err(op: &'static str, path: &Path, source: io::Error) -> RecorderError {
    RecorderError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Milliseconds of audio in a canonical (44-byte header) recording WAV of `file_len` bytes.
pub fn wav_duration_ms(file_len: u64) -> i64 {
    finalize::frames_to_ms(file_len.saturating_sub(format::WAV_HEADER_LEN) / 4)
}

enum Command {
    Open {
        record_id: i64,
        start: Micros,
        reply: oneshot::Sender<Result<(), RecorderError>>,
    },
    Audio {
        record_id: i64,
        channel: usize,
        at: Micros,
        pcm: Vec<i16>,
    },
    Silence {
        record_id: i64,
        from: Micros,
        to: Micros,
    },
    Finish {
        record_id: i64,
        end: Micros,
        reply: oneshot::Sender<Result<Finished, RecorderError>>,
    },
}

/// Owns every open recording on a dedicated OS thread (blocking file I/O never runs on the
/// async runtime). Clones share the thread. Dropping the last clone stops it: what is
/// buffered is committed and synced before the drop returns, and recordings still open stay
/// `.part` files that the next start recovers.
///
/// Only one recorder at a time may use a directory (an exclusive lock on `<dir>/.lock`):
/// a second one would "recover", and so delete, the segment files the first is writing.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    // Unbounded so `audio` never blocks; the thread does little per packet and keeps up.
    // An Option only so Drop can close it before joining the thread.
    tx: Option<mpsc::Sender<Command>>,
    dir: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
    // Released after the thread has flushed (fields drop after `Drop::drop`).
    _lock: Flock<File>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("recorder thread panicked");
        }
    }
}

impl Recorder {
    /// Creates the directory if needed, recovers every `.part` left by a crash, then starts
    /// the thread.
    pub fn start(dir: &Path) -> Result<(Recorder, Vec<Recovered>), RecorderError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("create recordings directory", dir, e))?;
        let lock = lock_dir(dir)?;
        let recovered = finalize::recover_dir(dir)?;
        let (tx, rx) = mpsc::channel();
        let thread_dir = dir.to_owned();
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(thread_dir, rx))
            .map_err(|e| io_err("start recorder thread", dir, e))?;
        let rec = Recorder {
            inner: Arc::new(Inner {
                tx: Some(tx),
                dir: dir.to_owned(),
                thread: Some(thread),
                _lock: lock,
            }),
        };
        Ok((rec, recovered))
    }

    /// Creates `<id>.part` and answers once it exists; it reaches the disk with the next
    /// periodic sync (see `Live::create`).
    pub async fn open(&self, record_id: i64, start: Micros) -> Result<(), RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Open {
            record_id,
            start,
            reply,
        })?;
        rx.await.map_err(|_| RecorderError::Stopped)?
    }

    /// Queues audio for one channel (0 = device side, 1 = far side), its first sample at
    /// `at`. Non-blocking; audio for an unknown/closed id or another channel is dropped.
    pub fn audio(&self, record_id: i64, channel: usize, at: Micros, pcm: Vec<i16>) {
        // A stopped thread means no recording is open, so dropping is the documented outcome.
        let _ = self.send(Command::Audio {
            record_id,
            channel,
            at,
            pcm,
        });
    }

    /// Marks a span that must stay silent in both channels (a compliance blackout): audio
    /// written for it, before or after this call, is discarded. The span is written to the
    /// `.part` at once, so it holds through a crash too.
    pub fn silence(&self, record_id: i64, from: Micros, to: Micros) {
        let _ = self.send(Command::Silence {
            record_id,
            from,
            to,
        });
    }

    /// Writes what is buffered, finalizes to WAV lasting exactly until `end`, and answers
    /// once the .wav is durable. The recording is closed even when this fails; its `.part`
    /// then stays on disk and the next [`Recorder::start`] recovers it.
    pub async fn finish(&self, record_id: i64, end: Micros) -> Result<Finished, RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Finish {
            record_id,
            end,
            reply,
        })?;
        rx.await.map_err(|_| RecorderError::Stopped)?
    }

    /// Free bytes (for an unprivileged user) and total bytes of the filesystem holding the
    /// recordings directory.
    pub fn disk_space(&self) -> Result<(u64, u64), RecorderError> {
        let dir = &self.inner.dir;
        let st = nix::sys::statvfs::statvfs(dir.as_path())
            .map_err(|e| io_err("query disk space", dir, io::Error::from(e)))?;
        // fsblkcnt_t and c_ulong are u64 on the 64-bit Linux targets we ship for.
        let frag = st.fragment_size();
        let free = st.blocks_available().saturating_mul(frag);
        let total = st.blocks().saturating_mul(frag);
        Ok((free, total))
    }

    /// True when the directory exists and a file can be created in it.
    pub fn path_usable(&self) -> bool {
        // A name no recording uses and no other probe (other clone, other thread) shares.
        static PROBES: AtomicU64 = AtomicU64::new(0);
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let probe = self
            .inner
            .dir
            .join(format!(".probe-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => std::fs::remove_file(&probe).is_ok(),
            Err(_) => false,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// True while recording `record_id` has a `.part`: it is being made or finalized, or a
    /// crash left it for the next start to recover. Its `.wav` is not final until then.
    pub fn unfinished(&self, record_id: i64) -> bool {
        finalize::part_path(&self.inner.dir, record_id).exists()
    }

    fn send(&self, cmd: Command) -> Result<(), RecorderError> {
        let tx = self.inner.tx.as_ref().ok_or(RecorderError::Stopped)?;
        tx.send(cmd).map_err(|_| RecorderError::Stopped)
    }
}

/// Takes the directory's exclusive lock. flock is released by the kernel when the process
/// dies, so a crash never leaves the directory locked.
fn lock_dir(dir: &Path) -> Result<Flock<File>, RecorderError> {
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_err("open recordings directory lock", &path, e))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            RecorderError::Locked(dir.to_owned())
        } else {
            io_err("lock recordings directory", &path, io::Error::from(errno))
        }
    })
}

/// The recorder thread: applies commands in order and commits every COMMIT_INTERVAL.
fn run(dir: PathBuf, rx: mpsc::Receiver<Command>) {
    let mut open: HashMap<i64, Live> = HashMap::new();
    let mut next_tick = Instant::now() + COMMIT_INTERVAL;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(cmd) => handle(&dir, &mut open, cmd),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Checked after every command too, so a steady stream of packets cannot starve it.
        if Instant::now() >= next_tick {
            for live in open.values_mut() {
                live.tick();
            }
            next_tick = Instant::now() + COMMIT_INTERVAL;
        }
    }
    // Every handle is gone: keep what is buffered. The recordings stay `.part` files and are
    // finalized by the next start, as after a crash but without the lost second.
    for live in open.values_mut() {
        live.mark_progress();
        if let Err(e) = live.flush() {
            tracing::error!(record_id = live.record_id, error = %e, "cannot flush on shutdown");
        }
    }
}

fn handle(dir: &Path, open: &mut HashMap<i64, Live>, cmd: Command) {
    match cmd {
        Command::Open {
            record_id,
            start,
            reply,
        } => {
            let res = match open.entry(record_id) {
                Entry::Occupied(_) => Err(RecorderError::AlreadyOpen(record_id)),
                Entry::Vacant(slot) => Live::create(dir, record_id, start).map(|live| {
                    slot.insert(live);
                }),
            };
            let _ = reply.send(res);
        }
        Command::Audio {
            record_id,
            channel,
            at,
            pcm,
        } => {
            if let Some(live) = open.get_mut(&record_id) {
                live.write(channel, at, &pcm);
            }
        }
        Command::Silence {
            record_id,
            from,
            to,
        } => {
            if let Some(live) = open.get_mut(&record_id) {
                live.silence(from, to);
            }
        }
        Command::Finish {
            record_id,
            end,
            reply,
        } => {
            let Some(mut live) = open.remove(&record_id) else {
                let _ = reply.send(Err(RecorderError::NotOpen(record_id)));
                return;
            };
            if let Err(e) = live.flush() {
                let _ = reply.send(Err(e));
                return;
            }
            if live.late_samples > 0 || live.lost_frames > 0 {
                tracing::warn!(
                    record_id,
                    late_samples = live.late_samples,
                    lost_frames = live.lost_frames,
                    "recording finished with dropped audio"
                );
            }
            let length = live::clamp_index(live::frame_index(live.start, end));
            drop(live);
            // Finalizing rewrites the whole recording; do it off this thread so the other
            // recordings keep committing meanwhile.
            let dir = dir.to_owned();
            let spawned = std::thread::Builder::new()
                .name("recorder-finish".into())
                .spawn(move || {
                    let res = finalize::finalize(&dir, record_id, Some(length)).map(|f| Finished {
                        record_id,
                        path: f.path,
                        duration_ms: finalize::frames_to_ms(f.frames),
                        samples: f.frames,
                    });
                    let _ = reply.send(res);
                });
            if let Err(e) = spawned {
                // The reply went with the closure; the caller sees Stopped. The `.part` is
                // intact and will be recovered at the next start.
                tracing::error!(record_id, error = %e, "cannot start finalization thread");
            }
        }
    }
}
