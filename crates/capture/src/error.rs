//! Errors of the capture path. Bad packets inside a capture are never errors (they are
//! counted and skipped); only a file that cannot be read as a capture at all is.

use std::path::PathBuf;

/// Why a capture could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("cannot read capture {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not start like a pcap or pcapng file.
    #[error("{path} is not a pcap or pcapng capture ({detail})")]
    NotACapture { path: PathBuf, detail: String },
    /// The file starts like a capture but its header is broken.
    #[error("{path} has a broken capture header: {source}")]
    BadHeader {
        path: PathBuf,
        #[source]
        source: pcap_file::PcapError,
    },
    /// The receiver of the events went away before the capture was fully replayed.
    #[error("the receiver of capture events was closed")]
    EventsClosed,
    /// The blocking reader thread stopped abnormally.
    #[error("capture reader thread failed: {0}")]
    ReaderFailed(String),
}
