//! Configuration: defaults, then a TOML file (`--config`), then `CALLVAULT_…` environment
//! variables and command-line options, each overriding the one before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;

/// Where the configuration, the catalog and the recordings are: options of both `serve` and
/// `export`.
#[derive(Args, Debug, Default)]
pub struct DataArgs {
    /// TOML configuration file.
    #[arg(long, env = "CALLVAULT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the catalog and recordings live [default: ./callvault-data].
    #[arg(long, env = "CALLVAULT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Catalog database: a SQLite file path, a `sqlite:` URL or a `postgres://` URL
    /// [default: <data-dir>/catalog.db].
    #[arg(long, env = "CALLVAULT_DATABASE", value_name = "URL")]
    pub database: Option<String>,
}

/// Options of `callvault serve`. Each can also be set in the TOML file; the environment
/// variable named beside it overrides the file.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// WebAPI (HTTP) listen address; port 0 picks a free port [default: 127.0.0.1:2012].
    #[arg(long, env = "CALLVAULT_HTTP", value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Socket API listen address [default: 127.0.0.1:5620].
    #[arg(long, env = "CALLVAULT_SOCKET", value_name = "ADDR")]
    pub socket: Option<SocketAddr>,
    /// Events listen address [default: 127.0.0.1:5621].
    #[arg(long, env = "CALLVAULT_EVENTS", value_name = "ADDR")]
    pub events: Option<SocketAddr>,
    /// Admin listen address: the supervisor page, `/metrics`, `/healthz` [default: 127.0.0.1:8080].
    #[arg(long, env = "CALLVAULT_ADMIN", value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Replay a pcap or pcapng file through the SIP/RTP capture (repeatable).
    #[arg(
        long = "capture-file",
        env = "CALLVAULT_CAPTURE_FILE",
        value_name = "PCAP",
        value_delimiter = ','
    )]
    pub capture_files: Vec<PathBuf>,
    /// How fast capture files are replayed [default: realtime].
    #[arg(long, env = "CALLVAULT_CAPTURE_SPEED", value_enum)]
    pub capture_speed: Option<CaptureSpeed>,
    /// Replay capture files even if they were already replayed to their end.
    #[arg(long, env = "CALLVAULT_CAPTURE_REPLAY_AGAIN")]
    pub capture_replay_again: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CaptureSpeed {
    Max,
    #[default]
    Realtime,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateTimeFormat {
    #[default]
    Iso,
    Dotnet,
}

impl DateTimeFormat {
    /// The form `wire` writes.
    pub fn wire(self) -> wire::values::DateFormat {
        match self {
            DateTimeFormat::Iso => wire::values::DateFormat::Iso,
            DateTimeFormat::Dotnet => wire::values::DateFormat::Dotnet,
        }
    }
}

/// The whole configuration, as the TOML file spells it.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: Listen,
    pub capture: Capture,
    pub recorder: RecorderSettings,
    pub database: Database,
    pub api: Api,
    pub devices: Devices,
    pub chat: Chat,
    pub retention: Retention,
    pub export: ExportSettings,
    pub smtp: Smtp,
    pub events: Events,
    /// TERMINOLOGY values that replace the defaults, by term (`AGENT = "Associate"`).
    pub terminology: BTreeMap<String, String>,
    pub blackout: Blackout,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    pub http: SocketAddr,
    pub socket: SocketAddr,
    pub events: SocketAddr,
    /// The supervisor page, `/metrics` (Prometheus) and `/healthz`.
    pub admin: SocketAddr,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capture {
    pub files: Vec<PathBuf>,
    pub speed: CaptureSpeed,
    /// Wait this long after the listeners are bound before replaying the files, so clients
    /// (an events client, for instance) can connect first.
    pub start_delay_ms: u64,
    /// Replay the files even if they were already replayed to their end (each file replayed
    /// to its end is remembered in the catalog and skipped at later starts).
    pub replay_again: bool,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecorderSettings {
    /// Recordings directory; empty = `<data_dir>/recordings`.
    pub path: PathBuf,
    pub channels: usize,
    pub min_free_bytes: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// A SQLite file path or a `sqlite:`/`postgres://` URL; empty = `<data_dir>/catalog.db`.
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Api {
    pub max_request_bytes: usize,
    pub max_value_chars: usize,
    pub max_user_field_chars: usize,
    /// An unfinished socket request with no new bytes for this long is answered with code 16.
    pub socket_partial_timeout_ms: u64,
    /// An HTTP client (WebAPI or admin listener) that has not sent a request's headers this
    /// long after connecting, or after its previous request, is disconnected; a WebAPI
    /// request whose body has not all come this long after its headers is answered 408.
    pub http_request_timeout_ms: u64,
    pub datetime_format: DateTimeFormat,
    /// IANA time zone for date-times without an offset, and for output.
    pub timezone: String,
    pub calllist_default: u32,
    pub calllist_max: u32,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Devices {
    pub auto_create: bool,
}

/// Chat and screen sessions (CHATSTART): what a session gets when the request does not say.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chat {
    /// KEEPDAYS of a new session; unset = empty (kept forever).
    pub keep_days: Option<u32>,
    /// ARCHIVEACTION of a new session: DELETE, NONE or KEEP (any case; kept upper-case).
    #[serde(deserialize_with = "archive_action_text")]
    pub archive_action: String,
}

impl Default for Chat {
    fn default() -> Self {
        Chat {
            keep_days: None,
            archive_action: "DELETE".to_string(),
        }
    }
}

/// Calls' retention defaults and the purge job.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// KEEPDAYS of a call's recordings when the request gives none; unset = kept forever.
    pub keep_days: Option<u32>,
    /// ARCHIVEACTION of a call's recordings when the request gives none: DELETE, NONE or
    /// KEEP (any case; kept upper-case).
    #[serde(deserialize_with = "archive_action_text")]
    pub archive_action: String,
    /// Whether this server runs the purge job.
    pub purge: bool,
    /// How often the purge runs (it also runs once at start-up), e.g. "1h" or "15m".
    #[serde(deserialize_with = "duration_text")]
    pub purge_interval: std::time::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_days: None,
            archive_action: "DELETE".to_string(),
            purge: true,
            purge_interval: std::time::Duration::from_secs(3600),
        }
    }
}

/// An ARCHIVEACTION as requests give it, any case; kept in the form results show.
fn archive_action_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    crate::commands::archive_action(&text)
        .map(str::to_string)
        .map_err(|e| serde::de::Error::custom(e.message))
}

/// A duration written as text: "1h", "15m", "1h 30m", "90s".
fn duration_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration like \"1h\" or \"15m\": {e}"
        ))
    })
}

/// How EXPORT encodes recordings.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSettings {
    /// MP3 and WebM: both channels mixed to one, or kept apart (left = the device's side).
    pub channels: ExportChannels,
    /// Most recordings one MULTIEXPORT may name (more → code 26).
    pub multiexport_max: usize,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            channels: ExportChannels::Mono,
            multiexport_max: 10_000,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportChannels {
    #[default]
    Mono,
    Stereo,
}

/// The SMTP server EMAILEXPORT sends through; no host = EMAILEXPORT answers 38.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    /// Unset: 25 without TLS, 587 with STARTTLS, 465 with TLS.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    /// Empty: no authentication.
    pub username: String,
    pub password: String,
    /// The From address (required when host is set).
    pub from: String,
    /// How long one message may take to be accepted.
    pub timeout_secs: u64,
    /// Largest file EMAILEXPORT attaches (the message is built in memory).
    pub max_attachment_bytes: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    #[default]
    Starttls,
    Tls,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            host: String::new(),
            port: None,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: String::new(),
            from: String::new(),
            timeout_secs: 30,
            max_attachment_bytes: 25 * 1024 * 1024,
        }
    }
}

/// The events port (PROTOCOL §7).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    /// How many events a client may fall behind before it loses some (and is told how many).
    pub queue: usize,
}

impl Default for Events {
    fn default() -> Self {
        Events { queue: 1024 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./callvault-data"),
            listen: Listen::default(),
            capture: Capture::default(),
            recorder: RecorderSettings::default(),
            database: Database::default(),
            api: Api::default(),
            devices: Devices::default(),
            chat: Chat::default(),
            retention: Retention::default(),
            export: ExportSettings::default(),
            smtp: Smtp::default(),
            events: Events::default(),
            terminology: BTreeMap::new(),
            blackout: Blackout::default(),
        }
    }
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            http: SocketAddr::from(([127, 0, 0, 1], 2012)),
            socket: SocketAddr::from(([127, 0, 0, 1], 5620)),
            events: SocketAddr::from(([127, 0, 0, 1], 5621)),
            admin: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

impl Default for RecorderSettings {
    fn default() -> Self {
        RecorderSettings {
            path: PathBuf::new(),
            channels: 64,
            min_free_bytes: 100 * 1024 * 1024,
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Api {
            max_request_bytes: 64 * 1024,
            max_value_chars: 1024,
            max_user_field_chars: 255,
            socket_partial_timeout_ms: 2000,
            http_request_timeout_ms: 30_000,
            datetime_format: DateTimeFormat::Iso,
            timezone: "UTC".to_string(),
            calllist_default: 100,
            calllist_max: 10_000,
        }
    }
}

/// How far a BLACKOUTSTART reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlackoutMode {
    /// Every call of the agent (or of the device, without an agent) until BLACKOUTSTOP.
    #[default]
    Agent,
    /// Only the call instance named, ending with that call.
    Call,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Blackout {
    pub mode: BlackoutMode,
}

impl Default for Devices {
    fn default() -> Self {
        Devices { auto_create: true }
    }
}

impl Config {
    /// Builds the configuration from the file (if any) and the options.
    pub fn load(args: ServeArgs) -> anyhow::Result<Config> {
        let mut config = match &args.data.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(d) = args.data.data_dir {
            config.data_dir = d;
        }
        if let Some(url) = args.data.database {
            config.database.url = url;
        }
        if let Some(a) = args.http {
            config.listen.http = a;
        }
        if let Some(a) = args.socket {
            config.listen.socket = a;
        }
        if let Some(a) = args.events {
            config.listen.events = a;
        }
        if let Some(a) = args.admin {
            config.listen.admin = a;
        }
        if !args.capture_files.is_empty() {
            config.capture.files = args.capture_files;
        }
        if let Some(s) = args.capture_speed {
            config.capture.speed = s;
        }
        if args.capture_replay_again {
            config.capture.replay_again = true;
        }
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("configuration file {} is not valid", path.display()))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.recorder.channels == 0 {
            bail!("recorder.channels must be at least 1");
        }
        if !self.smtp.host.is_empty() && self.smtp.from.parse::<lettre::message::Mailbox>().is_err()
        {
            bail!(
                "smtp.from must be an e-mail address when smtp.host is set, not {:?}",
                self.smtp.from
            );
        }
        if self.export.multiexport_max == 0 {
            bail!("export.multiexport_max must be at least 1");
        }
        if self.api.http_request_timeout_ms == 0 {
            bail!("api.http_request_timeout_ms must be at least 1");
        }
        // Shorter, the purge would run back to back, keeping the catalog busy for nothing.
        if self.retention.purge_interval < std::time::Duration::from_secs(1) {
            bail!(
                "retention.purge_interval must be at least 1s, not {}",
                humantime::format_duration(self.retention.purge_interval)
            );
        }
        if self.events.queue == 0 {
            bail!("events.queue must be at least 1");
        }
        if self.api.calllist_max == 0 || self.api.calllist_default == 0 {
            bail!("api.calllist_max and api.calllist_default must be at least 1");
        }
        self.timezone()?;
        self.terms()?;
        for file in &self.capture.files {
            if !file.is_file() {
                bail!(
                    "capture file {} does not exist or is not a file",
                    file.display()
                );
            }
        }
        Ok(())
    }

    /// The TERMINOLOGY list: the protocol's terms, with the configured values in place of
    /// the defaults. A term the protocol does not have is a start-up error (a typo would
    /// otherwise go unnoticed).
    pub fn terms(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut terms = crate::commands::default_terms();
        for (term, value) in &self.terminology {
            let upper = term.to_ascii_uppercase();
            let Some(slot) = terms.iter_mut().find(|(t, _)| *t == upper) else {
                bail!(
                    "terminology.{term} is not a term: use one of {}",
                    terms
                        .iter()
                        .map(|(t, _)| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            slot.1.clone_from(value);
        }
        Ok(terms)
    }

    pub fn timezone(&self) -> anyhow::Result<chrono_tz::Tz> {
        self.api.timezone.parse().map_err(|_| {
            anyhow::anyhow!(
                "api.timezone {:?} is not an IANA time zone",
                self.api.timezone
            )
        })
    }

    /// The size limits every request is held to.
    pub fn limits(&self) -> wire::Limits {
        wire::Limits {
            max_request_bytes: self.api.max_request_bytes,
            max_value_chars: self.api.max_value_chars,
            max_user_field_chars: self.api.max_user_field_chars,
        }
    }

    pub fn recordings_dir(&self) -> PathBuf {
        if self.recorder.path.as_os_str().is_empty() {
            self.data_dir.join("recordings")
        } else {
            self.recorder.path.clone()
        }
    }

    /// The database location as it may be shown: a password in a URL is replaced by `***`.
    pub fn database_display(&self) -> String {
        redact_password(&self.database_url())
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            self.data_dir
                .join("catalog.db")
                .to_string_lossy()
                .into_owned()
        } else {
            self.database.url.clone()
        }
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`; also hides a `password=`
/// query parameter. Anything else is returned as it is.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = url[..rest_start].to_string();
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Options naming only this configuration file.
    fn config_file(file: &Path) -> DataArgs {
        DataArgs {
            config: Some(file.to_path_buf()),
            ..DataArgs::default()
        }
    }

    /// Loads a configuration file with this text and no other options.
    fn load(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("callvault.toml");
        std::fs::write(&file, text).unwrap();
        Config::load(ServeArgs {
            data: config_file(&file),
            ..ServeArgs::default()
        })
    }

    #[test]
    fn file_then_options() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/cv\"\n[listen]\nhttp = \"0.0.0.0:80\"\n[recorder]\nchannels = 8\n",
        )
        .unwrap();
        let config = Config::load(ServeArgs {
            data: config_file(&file),
            http: Some("127.0.0.1:0".parse().unwrap()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/cv"));
        assert_eq!(config.listen.http.to_string(), "127.0.0.1:0");
        assert_eq!(config.listen.socket.to_string(), "127.0.0.1:5620");
        assert_eq!(config.listen.events.to_string(), "127.0.0.1:5621");
        assert_eq!(config.listen.admin.to_string(), "127.0.0.1:8080");
        assert_eq!(config.events.queue, 1024);
        assert_eq!(config.recorder.channels, 8);
        assert_eq!(config.recordings_dir(), PathBuf::from("/srv/cv/recordings"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let err = load("[recorder]\nchanels = 8\n").unwrap_err();
        assert!(format!("{err:#}").contains("chanels"), "{err:#}");
        assert!(load("[api]\ntimezone = \"Mars/Olympus\"\n").is_err());
    }

    #[test]
    fn chat_defaults() {
        let config = load("").unwrap();
        assert_eq!(config.chat.keep_days, None);
        assert_eq!(config.chat.archive_action, "DELETE");
        let config = load("[chat]\nkeep_days = 30\narchive_action = \"keep\"\n").unwrap();
        assert_eq!(config.chat.keep_days, Some(30));
        assert_eq!(config.chat.archive_action, "KEEP");
        assert!(load("[chat]\nkeep_days = -1\n").is_err());
        let err = load("[chat]\narchive_action = \"ARCHIVE\"\n").unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("ARCHIVEACTION must be DELETE, NONE or KEEP, not \"ARCHIVE\""),
            "{err:#}"
        );
    }

    #[test]
    fn retention_settings() {
        let config = load("").unwrap();
        assert_eq!(config.retention.keep_days, None);
        assert_eq!(config.retention.archive_action, "DELETE");
        assert!(config.retention.purge);
        assert_eq!(config.retention.purge_interval, Duration::from_secs(3600));
        let config = load(
            "[retention]\nkeep_days = 0\narchive_action = \"None\"\npurge = false\npurge_interval = \"1h 30m\"\n",
        )
        .unwrap();
        assert_eq!(config.retention.keep_days, Some(0));
        assert_eq!(config.retention.archive_action, "NONE");
        assert!(!config.retention.purge);
        assert_eq!(config.retention.purge_interval, Duration::from_secs(5400));
        for (bad, says) in [
            ("purge_interval = \"soon\"", "\"soon\" is not a duration"),
            (
                "purge_interval = \"0s\"",
                "retention.purge_interval must be at least 1s, not 0s",
            ),
            (
                "purge_interval = \"1ns\"",
                "retention.purge_interval must be at least 1s, not 1ns",
            ),
            (
                "purge_interval = \"999ms\"",
                "retention.purge_interval must be at least 1s, not 999ms",
            ),
            ("keep_days = \"ten\"", "invalid type: string \"ten\""),
            ("keep_days = 4294967296", "keep_days"),
            (
                "purge = \"yes\"",
                "invalid type: string \"yes\", expected a boolean",
            ),
            (
                "archive_action = \"ARCHIVE\"",
                "ARCHIVEACTION must be DELETE, NONE or KEEP",
            ),
            (
                "archive_action = \"\"",
                "ARCHIVEACTION must be DELETE, NONE or KEEP",
            ),
            ("keep_days = -1", "keep_days"),
        ] {
            let err = load(&format!("[retention]\n{bad}\n")).unwrap_err();
            assert!(format!("{err:#}").contains(says), "{bad}: {err:#}");
        }
    }

    #[test]
    fn export_channels() {
        assert_eq!(load("").unwrap().export.channels, ExportChannels::Mono);
        let config = load("[export]\nchannels = \"stereo\"\n").unwrap();
        assert_eq!(config.export.channels, ExportChannels::Stereo);
        assert!(load("[export]\nchannels = \"quad\"\n").is_err());
    }

    #[test]
    fn smtp_needs_a_from_address_with_a_host() {
        let config = load("").unwrap();
        assert!(config.smtp.host.is_empty());
        assert_eq!(config.smtp.tls, SmtpTls::Starttls);
        assert!(load("[smtp]\nhost = \"mail.example\"\n").is_err());
        assert!(load("[smtp]\nhost = \"mail.example\"\nfrom = \"nobody\"\n").is_err());
        let config = load(
            "[smtp]\nhost = \"mail.example\"\nport = 2525\ntls = \"tls\"\nfrom = \"Rec <rec@example.com>\"\n",
        )
        .unwrap();
        assert_eq!(config.smtp.port, Some(2525));
        assert_eq!(config.smtp.tls, SmtpTls::Tls);
        assert!(load("[smtp]\ntls = \"ssl\"\n").is_err());
    }

    #[test]
    fn events_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[listen]\nevents = \"127.0.0.1:7000\"\nadmin = \"127.0.0.1:9100\"\n[events]\nqueue = 16\n",
        )
        .unwrap();
        let config = Config::load(ServeArgs {
            data: config_file(&file),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.listen.events.to_string(), "127.0.0.1:7000");
        assert_eq!(config.listen.admin.to_string(), "127.0.0.1:9100");
        assert_eq!(config.events.queue, 16);
        let config = Config::load(ServeArgs {
            data: config_file(&file),
            events: Some("127.0.0.1:0".parse().unwrap()),
            admin: Some("127.0.0.1:0".parse().unwrap()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.listen.events.to_string(), "127.0.0.1:0");
        assert_eq!(config.listen.admin.to_string(), "127.0.0.1:0");
        assert!(load("[events]\nqueue = 0\n").is_err());
        let err = load("[api]\nhttp_request_timeout_ms = 0\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("http_request_timeout_ms"),
            "{err:#}"
        );
    }

    #[test]
    fn database_option_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[database]\nurl = \"/srv/cv/other.db\"\n").unwrap();
        let config = Config::load(ServeArgs {
            data: config_file(&file),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.database_url(), "/srv/cv/other.db");
        let config = Config::load(ServeArgs {
            data: DataArgs {
                database: Some("postgres://cv:secret@db.example:5432/cv".into()),
                ..config_file(&file)
            },
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(
            config.database_url(),
            "postgres://cv:secret@db.example:5432/cv"
        );
        assert_eq!(
            config.database_display(),
            "postgres://cv:***@db.example:5432/cv"
        );
        let config = Config::load(ServeArgs::default()).unwrap();
        assert_eq!(
            config.database_url(),
            Path::new("./callvault-data")
                .join("catalog.db")
                .to_string_lossy()
        );
    }

    #[test]
    fn passwords_are_hidden() {
        for (url, shown) in [
            ("postgres://u:p@h/db", "postgres://u:***@h/db"),
            (
                "postgresql://u:p:q@h:1/db?x=1",
                "postgresql://u:***@h:1/db?x=1",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?user=u&password=p",
                "postgres://h/db?user=u&password=***",
            ),
            ("postgres://u:p@h", "postgres://u:***@h"),
            ("/srv/cv/catalog.db", "/srv/cv/catalog.db"),
            (
                "sqlite:/srv/cv/catalog.db?mode=rwc",
                "sqlite:/srv/cv/catalog.db?mode=rwc",
            ),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }

    #[test]
    fn blackout_mode() {
        assert_eq!(load("").unwrap().blackout.mode, BlackoutMode::Agent);
        let call = load("[blackout]\nmode = \"call\"\n").unwrap();
        assert_eq!(call.blackout.mode, BlackoutMode::Call);
        assert!(load("[blackout]\nmode = \"device\"\n").is_err());
    }
}
