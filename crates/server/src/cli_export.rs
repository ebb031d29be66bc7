//! `callvault export`: recordings written to a file, either straight from the data directory
//! (no server needed) or downloaded from a running server over its WebAPI (`--server`, see
//! `remote.rs`). One recording is written in its format; several (`--ident`) go into the
//! same ZIP, with the same `manifest.csv`, as MULTIEXPORT sends. With `--password`, the
//! export is AES-256 encrypted as EXPORT and MULTIEXPORT encrypt it with ENCRYPT=Y.

mod remote;

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressStyle};
use tempfile::NamedTempFile;

use crate::config::{Config, DataArgs, ExportChannels, ServeArgs};
use crate::packaging::{self, Item, Multi, Outcome, write_multi};

/// Options of `callvault export`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["recordid", "ident"])))]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Download from the running server whose WebAPI is at this address (for instance
    /// http://127.0.0.1:2012) instead of reading the data directory.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with_all = ["config", "data_dir", "database"],
        value_parser = remote::webapi_url
    )]
    pub server: Option<String>,
    /// Export this one recording.
    #[arg(long, value_name = "RECORDID")]
    pub recordid: Option<i64>,
    /// Export these recordings (comma-separated RECORDIDs) into one ZIP with manifest.csv.
    #[arg(long, value_name = "RECORDIDS")]
    pub ident: Option<String>,
    /// The format: WAV, GSMWAV (or GSM, GSM_WAV), MP3 or WEBM (or WEBMA), in any case.
    #[arg(long, default_value = "WAV", ignore_case = true, value_parser = formats())]
    pub format: ::export::Format,
    /// Encrypt the export (AES-256 ZIP) with this password, as ENCRYPT=Y does.
    #[arg(
        long,
        env = "CALLVAULT_EXPORT_PASSWORD",
        hide_env_values = true,
        value_parser = not_blank
    )]
    pub password: Option<String>,
    /// The file to write; it appears only once it is complete.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// The MEDIA_FORMAT tokens `--format` takes (in any case), the aliases unlisted.
fn formats() -> impl clap::builder::TypedValueParser<Value = ::export::Format> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("WAV"),
        PossibleValue::new("GSMWAV").aliases(["GSM", "GSM_WAV", "GSM WAV"]),
        PossibleValue::new("MP3"),
        PossibleValue::new("WEBM").alias("WEBMA"),
    ])
    .try_map(|token| token.parse::<::export::Format>())
}

/// A PASSWORD the server would take: not blank (it is used as given, not trimmed).
fn not_blank(password: &str) -> Result<String, String> {
    if password.trim().is_empty() {
        return Err("the password must not be blank".to_string());
    }
    Ok(password.to_string())
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut output = Output::create(&args.output)?;
    let bar = progress();
    match &args.server {
        Some(server) => {
            bar.set_message("received");
            remote::download(server, &args, &mut output, &bar)?
        }
        None => {
            bar.set_message("written");
            from_data_dir(args, &mut output, &bar)?
        }
    }
    bar.finish_and_clear();
    output.finish()
}

/// The output file, written under a temporary name beside it and renamed into place only
/// once complete, so a failed or interrupted export leaves no file behind.
struct Output {
    temp: NamedTempFile,
    path: PathBuf,
    /// The directory the output goes in, where temporary files go too.
    dir: PathBuf,
}

impl Output {
    fn create(path: &Path) -> anyhow::Result<Output> {
        // Checked now, not when the finished file is renamed into place: by then the whole
        // export would have been made for nothing.
        if path.is_dir() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
            bail!(
                "--output {} is a directory: name the file to write in it",
                path.display()
            );
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = removed_on_signal(|| {
            // Opened here rather than by `tempfile_in`, whose errors name the temporary
            // file: the user should read the output path and the system's reason only. The
            // usual permissions (0666 less the umask), as any other file the user writes,
            // not a temporary file's owner-only ones.
            tempfile::Builder::new()
                .prefix(".callvault-export-")
                .make_in(&dir, |temp| {
                    File::options()
                        .read(true)
                        .write(true)
                        .create_new(true)
                        .mode(0o666)
                        .open(temp)
                })
                .with_context(|| format!("cannot write {}", path.display()))
        })?;
        Ok(Output {
            temp,
            path: path.to_path_buf(),
            dir,
        })
    }

    fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    fn unwritable(&self) -> String {
        format!("cannot write {}", self.path.display())
    }

    fn finish(self) -> anyhow::Result<()> {
        let unwritable = self.unwritable();
        self.temp.as_file().sync_all().context(unwritable.clone())?;
        self.temp
            .persist(&self.path)
            .map_err(|e| e.error)
            .context(unwritable)?;
        Ok(())
    }
}

/// The temporary file `create` makes, removed if Ctrl-C (SIGINT) or SIGTERM ends the export:
/// the process then exits with 128 + the signal's number. (Ended by the signal itself, it
/// would leave the file behind.)
fn removed_on_signal(
    create: impl FnOnce() -> anyhow::Result<NamedTempFile>,
) -> anyhow::Result<NamedTempFile> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Caught from here on, before the file exists, so none can slip in between.
    let (mut interrupt, mut terminate) = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    let temp = create()?;
    let path = temp.path().to_path_buf();
    std::thread::spawn(move || {
        let status = runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            }
        });
        let _ = std::fs::remove_file(&path);
        // Below the progress bar, when there is one.
        let newline = if io::stderr().is_terminal() { "\n" } else { "" };
        eprintln!("{newline}callvault export: interrupted; nothing was written");
        std::process::exit(status);
    });
    Ok(temp)
}

/// The export read from the catalog and the recordings directory.
fn from_data_dir(args: ExportArgs, output: &mut Output, bar: &ProgressBar) -> anyhow::Result<()> {
    let format = args.format;
    let config = Config::load(ServeArgs {
        data: args.data,
        ..ServeArgs::default()
    })?;
    if let Some(password) = &args.password {
        // As the server would take it (over the WebAPI, it is the server that says).
        wire::check_value("PASSWORD", password, &config.limits())
            .map_err(|e| anyhow::anyhow!("--password: {}", e.message))?;
    }
    let options = ::export::Options {
        stereo: config.export.channels == ExportChannels::Stereo,
    };
    let recordings_dir = config.recordings_dir();
    // There, the export could replace a stored recording (and the purge would not know it).
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if canonical(&output.dir).is_some() && canonical(&output.dir) == canonical(&recordings_dir) {
        bail!(
            "--output must not be in the recordings directory {}",
            recordings_dir.display()
        );
    }
    let database = config.database_url();
    let is_file = !database.contains("://") && !database.starts_with("sqlite:");
    if is_file && !Path::new(&database).is_file() {
        bail!("no catalog at {database}: give the data directory with --data-dir (or --database)");
    }
    let wanted = match (args.recordid, &args.ident) {
        (Some(id), _) => vec![(id.to_string(), id)],
        (None, Some(idents)) => {
            crate::commands::wanted_idents(idents, config.export.multiexport_max)
                .map_err(|e| anyhow::anyhow!("--ident: {}", e.message))?
        }
        (None, None) => unreachable!("clap requires --recordid or --ident"),
    };
    let (tz, datetime_format) = (config.timezone()?, config.api.datetime_format.wire());
    let time = |t| wire::values::format_datetime(t, tz, datetime_format);
    let found = lookup(&config, &wanted, time)?;

    if args.recordid.is_none() {
        let items = found
            .into_iter()
            .map(|(ident, record_id, outcome)| Item {
                ident,
                record_id,
                outcome,
            })
            .collect();
        let job = Multi {
            items,
            format,
            options,
            password: args.password,
            temp_dir: output.dir.clone(),
            tz,
        };
        let out = BufWriter::new(bar.wrap_write(output.file()));
        return write_multi(job, out).map_err(anyhow::Error::msg);
    }

    let (_, record_id, outcome) = found.into_iter().next().expect("one looked up");
    let stored = outcome.into_stored(record_id).map_err(anyhow::Error::msg)?;
    let path = stored.path;
    let unwritable = output.unwritable();
    let Some(password) = args.password else {
        return encode(&path, record_id, format, options, bar, output.file());
    };
    let mut plain = tempfile::tempfile_in(&output.dir).context(unwritable.clone())?;
    encode(&path, record_id, format, options, bar, &mut plain)?;
    plain.seek(SeekFrom::Start(0)).context(unwritable)?;
    let name = packaging::file_name(record_id, format);
    let modified = packaging::zip_time(stored.start, tz);
    packaging::zip_into(plain, &name, modified, format, &password, output.file())
        .map_err(anyhow::Error::msg)
}

/// Writes recording `record_id`, stored at `path`, to `out` in `format`: the stored WAV as
/// it is (as EXPORT sends it), or encoded. The bar follows the stored file being read.
fn encode(
    path: &Path,
    record_id: i64,
    format: ::export::Format,
    options: ::export::Options,
    bar: &ProgressBar,
    out: &mut File,
) -> anyhow::Result<()> {
    let input = File::open(path).with_context(|| {
        format!(
            "the media file of recording {record_id} ({}) cannot be read",
            path.display()
        )
    })?;
    show_total(bar, input.metadata().map(|m| m.len()).unwrap_or(0));
    let mut input = BufReader::new(bar.wrap_read(input));
    let mut out = BufWriter::new(out);
    if format == ::export::Format::Wav {
        io::copy(&mut input, &mut out).context("the export cannot be written")?;
    } else {
        ::export::encode(format, options, input, &mut out)
            .with_context(|| format!("recording {record_id}: {format} export failed"))?;
    }
    out.flush().context("the export cannot be written")
}

/// Each wanted recording looked up in the catalog.
fn lookup(
    config: &Config,
    wanted: &[(String, i64)],
    time: impl Fn(store::Micros) -> String,
) -> anyhow::Result<Vec<(String, i64, Outcome)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // The location is shown with any password hidden, as `serve` shows it.
        let store = store::Store::open(&config.database_url())
            .await
            .with_context(|| format!("cannot open the catalog at {}", config.database_display()))?;
        let recordings_dir = config.recordings_dir();
        let mut found = Vec::with_capacity(wanted.len());
        for (ident, record_id) in wanted {
            let row = store.recording(*record_id).await?;
            let outcome = Outcome::of(row, &recordings_dir, &time);
            found.push((ident.clone(), *record_id, outcome));
        }
        store.close().await;
        Ok(found)
    })
}

/// A progress indicator on stderr, drawn only when stderr is a terminal: a spinner with the
/// bytes done so far and what they are (its message), until [`show_total`] makes it a bar.
fn progress() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Once the number of bytes to go through is known: a bar towards `len`.
fn show_total(bar: &ProgressBar, len: u64) {
    bar.set_length(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
}
