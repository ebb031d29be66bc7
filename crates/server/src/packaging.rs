//! Export files built on blocking threads (never on the async runtime): a recording encoded
//! in its format, a single recording in an AES-256 encrypted ZIP, and the streamed ZIP of
//! MULTIEXPORT.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use zip::write::{FileOptions, SimpleFileOptions};
use zip::{AesMode, CompressionMethod, DateTime, ZipWriter};

/// The recording's file in `format`: the stored WAV itself, or the recording encoded into
/// an anonymous temporary file in `dir` (it disappears once closed). A file rather than a
/// pipe, because MP3's LAME tag is written last, at the start of the file.
pub fn encoded(
    path: &Path,
    format: ::export::Format,
    options: ::export::Options,
    dir: &Path,
) -> Result<File, String> {
    let input = File::open(path).map_err(|e| {
        tracing::debug!(path = %path.display(), error = %e, "recording file cannot be opened");
        "the recording's media file is missing".to_string()
    })?;
    if format == ::export::Format::Wav {
        return Ok(input);
    }
    let fail = |e: &dyn std::fmt::Display| format!("{format} export failed: {e}");
    let mut out = tempfile::tempfile_in(dir).map_err(|e| fail(&e))?;
    let mut writer = BufWriter::new(&mut out);
    ::export::encode(format, options, BufReader::new(input), &mut writer).map_err(|e| fail(&e))?;
    writer.flush().map_err(|e| fail(&e))?;
    drop(writer);
    out.seek(SeekFrom::Start(0)).map_err(|e| fail(&e))?;
    Ok(out)
}

/// `at` as a ZIP entry's time, which has no time zone: the local time in `tz` (the zone
/// results are written in), to the even second below. 1980-01-01, the earliest a ZIP can
/// hold, for a time outside what it can.
pub fn zip_time(at: store::Micros, tz: chrono_tz::Tz) -> DateTime {
    chrono::DateTime::from_timestamp_micros(at)
        .and_then(|utc| DateTime::try_from(utc.with_timezone(&tz).naive_local()).ok())
        .unwrap_or_default()
}

/// How one file is stored in a ZIP: dated `modified`; WAV and text deflated, the already
/// compressed formats stored as they are; AES-256 (WinZip AE-2) when there is a password;
/// ZIP64 when the file needs it.
fn entry_options<'k>(
    compress: bool,
    len: u64,
    modified: DateTime,
    password: Option<&'k str>,
) -> FileOptions<'k, 'static, ()> {
    let method = if compress {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(modified)
        .large_file(len >= u64::from(u32::MAX));
    match password {
        Some(p) => options.with_aes_encryption(AesMode::Aes256, p),
        None => options,
    }
}

fn zip_error(e: impl std::fmt::Display) -> String {
    format!("the ZIP archive could not be written: {e}")
}

/// The name of a recording's export: `<RECORDID>.<ext>`.
pub fn file_name(record_id: i64, format: ::export::Format) -> String {
    format!("{record_id}.{}", format.extension())
}

/// `file` (the export of one recording) as the only entry `name`, dated `modified`, of an
/// AES-256 encrypted ZIP, in an anonymous temporary file in `dir`, read from its start.
pub fn zipped(
    file: File,
    name: &str,
    modified: DateTime,
    format: ::export::Format,
    password: &str,
    dir: &Path,
) -> Result<File, String> {
    let mut out = tempfile::tempfile_in(dir).map_err(zip_error)?;
    zip_into(file, name, modified, format, password, &mut out)?;
    out.seek(SeekFrom::Start(0)).map_err(zip_error)?;
    Ok(out)
}

/// Writes the AES-256 encrypted ZIP of [`zipped`] to `out`.
pub fn zip_into(
    file: File,
    name: &str,
    modified: DateTime,
    format: ::export::Format,
    password: &str,
    out: &mut File,
) -> Result<(), String> {
    let len = file.metadata().map_err(zip_error)?.len();
    let mut zip = ZipWriter::new(BufWriter::new(out));
    let compress = format == ::export::Format::Wav;
    zip.start_file(name, entry_options(compress, len, modified, Some(password)))
        .map_err(zip_error)?;
    io::copy(&mut BufReader::new(file), &mut zip).map_err(zip_error)?;
    zip.finish().map_err(zip_error)?.flush().map_err(zip_error)
}

/// One IDENT of a MULTIEXPORT, looked up.
pub struct Item {
    /// The IDENT as the request gave it (trimmed).
    pub ident: String,
    pub record_id: i64,
    pub outcome: Outcome,
}

/// A finished recording's stored WAV.
pub struct Stored {
    pub path: PathBuf,
    /// When the recording started: its entry's time in a ZIP.
    pub start: store::Micros,
}

pub enum Outcome {
    /// A finished recording with audio.
    Found(Stored),
    NotFound,
    NoAudio,
    StillRecording,
    /// The retention purge deleted its media, at this time (as results write it).
    Purged(String),
}

impl Outcome {
    /// What the catalog's answer for one RECORDID means for an export; the media path is
    /// resolved in `recordings_dir`, a purge time written by `time`.
    pub fn of(
        found: Option<store::RecordingRow>,
        recordings_dir: &Path,
        time: impl Fn(store::Micros) -> String,
    ) -> Outcome {
        match found {
            None => Outcome::NotFound,
            Some(store::RecordingRow {
                purged: Some(at), ..
            }) => Outcome::Purged(time(at)),
            Some(rec) if rec.state == store::RecordingState::Open => Outcome::StillRecording,
            Some(rec) if !rec.audio || rec.media_path.is_empty() => Outcome::NoAudio,
            Some(rec) => Outcome::Found(Stored {
                path: recordings_dir.join(&rec.media_path),
                start: rec.recording_start,
            }),
        }
    }

    /// The stored WAV of recording `record_id`, or why it cannot be exported, as EXPORT
    /// says it (code 31).
    pub fn into_stored(self, record_id: i64) -> Result<Stored, String> {
        Err(match self {
            Outcome::Found(stored) => return Ok(stored),
            Outcome::NotFound => format!("no recording has RECORDID {record_id}"),
            Outcome::NoAudio => format!("recording {record_id} has no audio"),
            Outcome::StillRecording => {
                format!("recording {record_id} is still being made; export it once it has stopped")
            }
            Outcome::Purged(at) => {
                format!(
                    "recording {record_id} was purged by retention at {at}: its media is deleted"
                )
            }
        })
    }
}

/// What MULTIEXPORT packs: the recordings, the format, and the password if encrypted.
pub struct Multi {
    pub items: Vec<Item>,
    pub format: ::export::Format,
    pub options: ::export::Options,
    pub password: Option<String>,
    /// Where temporary encoded files go (the recordings directory).
    pub temp_dir: PathBuf,
    /// The time zone of the entries' times.
    pub tz: chrono_tz::Tz,
}

/// Writes the MULTIEXPORT ZIP to `out` strictly in order (nothing is sought back to): one
/// `<RECORDID>.<ext>` per recording found, each encoded just before it is added and dated
/// when the recording started, then `manifest.csv` with every IDENT's outcome, dated when
/// the archive was begun. Memory does not grow with the number or the
/// size of the recordings. Fails only when writing to `out` fails (the client went away)
/// or the archive cannot be written; a recording that cannot be encoded is a manifest row.
pub fn write_multi(job: Multi, out: impl Write) -> Result<(), String> {
    let made = zip_time(engine::now_micros(), job.tz);
    let mut zip = ZipWriter::new_stream(out);
    let password = job.password.as_deref();
    let mut manifest = String::from("IDENT,FILE,OUTCOME,DETAIL\r\n");
    for item in &job.items {
        let file_name = file_name(item.record_id, job.format);
        let (file, outcome, detail) = match &item.outcome {
            Outcome::Found(stored) => {
                match encoded(&stored.path, job.format, job.options, &job.temp_dir) {
                    Ok(file) => {
                        let len = file.metadata().map_err(zip_error)?.len();
                        let compress = job.format == ::export::Format::Wav;
                        let modified = zip_time(stored.start, job.tz);
                        zip.start_file(
                            file_name.as_str(),
                            entry_options(compress, len, modified, password),
                        )
                        .map_err(zip_error)?;
                        io::copy(&mut BufReader::new(file), &mut zip).map_err(zip_error)?;
                        (file_name.as_str(), "exported", String::new())
                    }
                    Err(why) => ("", "failed", why),
                }
            }
            Outcome::NotFound => ("", "not found", String::new()),
            Outcome::NoAudio => ("", "no audio", String::new()),
            Outcome::StillRecording => ("", "still recording", String::new()),
            Outcome::Purged(at) => ("", "purged", format!("purged by retention at {at}")),
        };
        manifest.push_str(&csv_row(&[&item.ident, file, outcome, &detail]));
    }
    zip.start_file(
        "manifest.csv",
        entry_options(true, manifest.len() as u64, made, password),
    )
    .map_err(zip_error)?;
    zip.write_all(manifest.as_bytes()).map_err(zip_error)?;
    zip.finish()
        .map_err(zip_error)?
        .into_inner()
        .flush()
        .map_err(zip_error)
}

/// One CSV line (RFC 4180): fields with a comma, quote or line break are quoted.
fn csv_row(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

/// A [`Write`] that hands its bytes, in chunks, to an async receiver through a bounded
/// channel: the writing thread waits while the receiver is `capacity` chunks behind, so
/// memory stays bounded whatever is written. Fails once the receiver is gone.
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    pub fn new(tx: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>) -> Self {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_row;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            csv_row(&["12", "12.mp3", "exported", ""]),
            "12,12.mp3,exported,\r\n"
        );
        assert_eq!(
            csv_row(&["a,b", "say \"hi\""]),
            "\"a,b\",\"say \"\"hi\"\"\"\r\n"
        );
    }
}
