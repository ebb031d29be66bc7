//! `callvault export`: recordings exported straight from the data directory, without a
//! running server. One recording is written in its format; several (`--ident`) go into the
//! same ZIP, with the same `manifest.csv`, as MULTIEXPORT sends.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, ExportChannels, ServeArgs};
use crate::packaging::{Item, Multi, Outcome, write_multi};

/// Options of `callvault export`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["recordid", "ident"])))]
pub struct ExportArgs {
    /// TOML configuration file (the one `serve` uses).
    #[arg(long, env = "CALLVAULT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the catalog and recordings live [default: ./callvault-data].
    #[arg(long, env = "CALLVAULT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Catalog database: a SQLite file path, a `sqlite:` URL or a `postgres://` URL
    /// [default: <data-dir>/catalog.db].
    #[arg(long, env = "CALLVAULT_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Export this one recording.
    #[arg(long, value_name = "RECORDID")]
    pub recordid: Option<i64>,
    /// Export these recordings (comma-separated RECORDIDs) into one ZIP with manifest.csv.
    #[arg(long, value_name = "RECORDIDS")]
    pub ident: Option<String>,
    /// MEDIA_FORMAT: WAV, GSMWAV (GSM, GSM_WAV), MP3 or WEBM (WEBMA).
    #[arg(long, default_value = "WAV")]
    pub format: String,
    /// The file to write; it appears only once it is complete.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let format: ::export::Format = args.format.parse()?;
    let config = Config::load(ServeArgs {
        config: args.config,
        data_dir: args.data_dir,
        database: args.database,
        ..ServeArgs::default()
    })?;
    let options = ::export::Options {
        stereo: config.export.channels == ExportChannels::Stereo,
    };
    let recordings_dir = config.recordings_dir();
    let database = config.database_url();
    let is_file = !database.contains("://") && !database.starts_with("sqlite:");
    if is_file && !Path::new(&database).is_file() {
        bail!("no catalog at {database}: give the data directory with --data-dir (or --database)");
    }
    let wanted = match (&args.recordid, &args.ident) {
        (Some(id), _) => vec![(id.to_string(), *id)],
        (None, Some(idents)) => parse_idents(idents)?,
        (None, None) => unreachable!("clap requires --recordid or --ident"),
    };
    let (tz, datetime_format) = (config.timezone()?, config.api.datetime_format.wire());
    let time = |t| wire::values::format_datetime(t, tz, datetime_format);
    let found = lookup(&database, &recordings_dir, &wanted, time)?;

    let output = &args.output;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let unwritable = || format!("cannot write {}", output.display());
    let mut temp = tempfile::NamedTempFile::new_in(&dir).with_context(unwritable)?;
    let bar = progress();
    if args.recordid.is_some() {
        let (_, record_id, outcome) = found.into_iter().next().expect("one looked up");
        let path = match outcome {
            Outcome::Found(path) => path,
            Outcome::NotFound => bail!("no recording has RECORDID {record_id}"),
            Outcome::NoAudio => bail!("recording {record_id} has no audio"),
            Outcome::StillRecording => {
                bail!("recording {record_id} is still being made; export it once it has stopped")
            }
            Outcome::Purged(at) => bail!(crate::commands::purged_message(record_id, &at)),
        };
        let input = File::open(&path).with_context(|| {
            format!(
                "the media file of recording {record_id} ({}) cannot be read",
                path.display()
            )
        })?;
        bar.set_length(input.metadata().map(|m| m.len()).unwrap_or(0));
        let input = BufReader::new(bar.wrap_read(input));
        let mut out = BufWriter::new(temp.as_file_mut());
        if format == ::export::Format::Wav {
            // The stored WAV as it is, as EXPORT sends it.
            let mut input = input;
            io::copy(&mut input, &mut out).with_context(unwritable)?;
        } else {
            ::export::encode(format, options, input, &mut out)
                .with_context(|| format!("recording {record_id}: {format} export failed"))?;
        }
        out.flush().with_context(unwritable)?;
    } else {
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
            password: None,
            temp_dir: dir.clone(),
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {bytes} written {elapsed}") {
            bar.set_style(style);
        }
        let out = BufWriter::new(bar.wrap_write(temp.as_file_mut()));
        write_multi(job, out).map_err(anyhow::Error::msg)?;
    }
    bar.finish_and_clear();
    temp.as_file().sync_all().with_context(unwritable)?;
    temp.persist(output)
        .map_err(|e| e.error)
        .with_context(unwritable)?;
    Ok(())
}

/// The RECORDIDs of `--ident`, each once, in the order given.
fn parse_idents(idents: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let mut wanted: Vec<(String, i64)> = Vec::new();
    for ident in idents.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let record_id: i64 = ident
            .parse()
            .map_err(|_| anyhow::anyhow!("--ident values must be RECORDIDs, not {ident:?}"))?;
        if !wanted.iter().any(|(_, r)| *r == record_id) {
            wanted.push((ident.to_string(), record_id));
        }
    }
    if wanted.is_empty() {
        bail!("--ident names no RECORDID");
    }
    Ok(wanted)
}

/// Each wanted recording looked up in the catalog.
fn lookup(
    database: &str,
    recordings_dir: &Path,
    wanted: &[(String, i64)],
    time: impl Fn(store::Micros) -> String,
) -> anyhow::Result<Vec<(String, i64, Outcome)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = store::Store::open(database)
            .await
            .with_context(|| format!("cannot open the catalog {database}"))?;
        let mut found = Vec::with_capacity(wanted.len());
        for (ident, record_id) in wanted {
            let row = store.recording(*record_id).await?;
            let outcome = Outcome::of(row, recordings_dir, &time);
            found.push((ident.clone(), *record_id, outcome));
        }
        store.close().await;
        Ok(found)
    })
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress() -> ProgressBar {
    if !io::IsTerminal::is_terminal(&io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
