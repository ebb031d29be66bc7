//! The API's commands, one file per family, behind one dispatcher. Every request gets one
//! `<RESULT>`: a handler returns its data or an [`ApiError`], and both render the same way.

mod blackout;
mod calllist;
mod calls;
mod chat;
mod directory_status;
mod email;
mod export;
mod groups;
mod import;
mod multiexport;
mod recording;
mod status;

pub use directory_status::default_terms;
pub use multiexport::wanted as wanted_idents;

use std::path::PathBuf;

use chrono_tz::Tz;
use engine::{ApiError, Engine, MetaUpdate};
use store::{AgentKey, Lookup, NameKey, UserKey};
use wire::{Code, Limits, Node, Request, Response};

use crate::capture_sources::CaptureSources;
use crate::config::Config;

/// What every command can reach.
pub struct Ctx {
    pub engine: Engine,
    pub limits: Limits,
    pub tz: Tz,
    pub datetime_format: wire::values::DateFormat,
    pub calllist_default: u32,
    pub calllist_max: u32,
    pub socket_partial_timeout: std::time::Duration,
    /// How long an HTTP client has to send a request's headers, and then its body.
    pub http_request_timeout: std::time::Duration,
    pub captures: CaptureSources,
    pub recordings_dir: PathBuf,
    /// TERMINOLOGY's terms and values.
    pub terms: Vec<(String, String)>,
    /// KEEPDAYS and ARCHIVEACTION of a chat session whose CHATSTART gives none.
    pub chat_keep_days: Option<i64>,
    pub chat_archive_action: String,
    /// How EXPORT encodes (MP3 and WebM: mono or stereo).
    pub export_options: ::export::Options,
    /// Most recordings one MULTIEXPORT may name.
    pub multiexport_max: usize,
    /// EMAILEXPORT's SMTP server.
    pub smtp: crate::config::Smtp,
    /// What `/metrics` exports; requests are counted by [`execute`].
    pub metrics: crate::metrics::Metrics,
}

impl Ctx {
    pub fn new(engine: Engine, config: &Config, tz: Tz, captures: CaptureSources) -> Ctx {
        Ctx {
            engine,
            limits: config.limits(),
            tz,
            datetime_format: config.api.datetime_format.wire(),
            calllist_default: config.api.calllist_default,
            calllist_max: config.api.calllist_max,
            socket_partial_timeout: std::time::Duration::from_millis(
                config.api.socket_partial_timeout_ms,
            ),
            http_request_timeout: std::time::Duration::from_millis(
                config.api.http_request_timeout_ms,
            ),
            captures,
            recordings_dir: config.recordings_dir(),
            terms: config.terms().unwrap_or_else(|_| default_terms()),
            chat_keep_days: config.chat.keep_days.map(i64::from),
            chat_archive_action: config.chat.archive_action.clone(),
            export_options: ::export::Options {
                stereo: config.export.channels == crate::config::ExportChannels::Stereo,
            },
            multiexport_max: config.export.multiexport_max,
            smtp: config.smtp.clone(),
            metrics: crate::metrics::Metrics::new(),
        }
    }

    /// A date-time as results write it.
    pub fn time(&self, micros: Option<i64>) -> String {
        micros
            .map(|m| wire::values::format_datetime(m, self.tz, self.datetime_format))
            .unwrap_or_default()
    }
}

/// Which listener a request came in on: some commands are served only over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Http,
    Socket,
    /// The supervisor page's JSON API on the admin listener.
    Admin,
}

/// A recording to send instead of a `<RESULT>` (a successful EXPORT): the stored WAV at
/// `path`, encoded as `format` on the way out, zipped with AES-256 when there is a password.
#[derive(Clone)]
pub struct Media {
    pub record_id: i64,
    pub path: PathBuf,
    /// When the recording started, as the time of its entry in an encrypted export's ZIP.
    pub modified: zip::DateTime,
    pub format: ::export::Format,
    pub options: ::export::Options,
    pub password: Option<String>,
}

impl Media {
    /// `<RECORDID>.<ext>`.
    pub fn file_name(&self) -> String {
        crate::packaging::file_name(self.record_id, self.format)
    }
}

pub enum Reply {
    Result(Response),
    Media(Media),
    /// MULTIEXPORT's ZIP, and its file name.
    Archive(crate::packaging::Multi, String),
}

/// What a handler produces on success: the code and the data nodes.
pub struct Done {
    pub code: Code,
    pub body: Vec<Node>,
}

impl Done {
    pub fn ok(body: Vec<Node>) -> Self {
        Done {
            code: Code::Ok,
            body,
        }
    }
}

/// Runs one parsed request and builds its reply, and counts it (type, result code,
/// transport, and how long it took) for `/metrics`.
pub async fn execute(ctx: &Ctx, req: &Request, transport: Transport) -> Reply {
    let started = std::time::Instant::now();
    let reply = dispatch(ctx, req, transport).await;
    let code = match &reply {
        Reply::Result(doc) => doc.code,
        Reply::Media(_) | Reply::Archive(..) => Code::Ok,
    };
    // A type the server does not know is counted under one label, so clients cannot
    // create series without bound.
    let request_type = if code == Code::UnknownMessageType {
        "UNKNOWN"
    } else {
        req.request_type.as_str()
    };
    ctx.metrics
        .request(request_type, code.number(), transport, started.elapsed());
    reply
}

async fn dispatch(ctx: &Ctx, req: &Request, transport: Transport) -> Reply {
    let result = match req.request_type.as_str() {
        "TEST" => Ok(Done::ok(Vec::new())),
        "CALLSTART" => calls::call_start(ctx, req).await,
        "CALLSTOP" => calls::call_stop(ctx, req).await,
        "CALLUPDATE" => calls::call_update(ctx, req).await,
        "RECORDSTART" => recording::record_start(ctx, req).await,
        "RECORDSTOP" => recording::record_stop(ctx, req).await,
        "CHATSTART" => chat::chat_start(ctx, req).await,
        "CHATSTOP" => chat::chat_stop(ctx, req).await,
        "CHATUPDATE" => chat::chat_update(ctx, req).await,
        "DEVICELIST" => status::device_list(ctx).await,
        "DEVICESTATUS" => status::device_status(ctx, req).await,
        "DEVICERECORDINGSTATUS" => status::device_recording_status(ctx, req).await,
        "SYSTEMSTATUS" => status::system_status(ctx).await,
        "CHANNELSTATUS" => status::channel_status(ctx).await,
        "CALLLIST" => calllist::call_list(ctx, req).await,
        "STATIONLIST" => directory_status::station_list(ctx).await,
        "TERMINOLOGY" => directory_status::terminology(ctx).await,
        "IMPORTUSER" | "IMPORTAGENT" => import::import_user(ctx, req).await,
        "IMPORTAGENTPHONE" => import::import_agent_phone(ctx, req).await,
        "IMPORTSTATION" => import::import_station(ctx, req).await,
        "ADDGROUP" => groups::add_group(ctx, req).await,
        "ADDGROUPMEMBER" => groups::add_group_member(ctx, req).await,
        "ADDROLE" => groups::add_role(ctx, req).await,
        "ADDROLEGROUP" => groups::add_role_group(ctx, req).await,
        "ADDROLEUSER" => groups::add_role_user(ctx, req).await,
        "MODIFYROLEPERMISSION" => groups::modify_role_permission(ctx, req).await,
        "BLACKOUTSTART" => blackout::blackout_start(ctx, req).await,
        "BLACKOUTSTOP" => blackout::blackout_stop(ctx, req).await,
        "EVENTFILTER" => Err(ApiError::new(
            Code::InvalidRequestType,
            "EVENTFILTER is served on the events port",
        )),
        "EXPORT" => {
            if transport == Transport::Socket {
                Err(ApiError::new(
                    Code::InvalidRequestType,
                    "EXPORT is served only by the WebAPI",
                ))
            } else {
                match export::export(ctx, req).await {
                    Ok(media) => return Reply::Media(media),
                    Err(e) => Err(e),
                }
            }
        }
        "EMAILEXPORT" => email::email_export(ctx, req).await,
        "MULTIEXPORT" => {
            if transport == Transport::Socket {
                Err(ApiError::new(
                    Code::InvalidRequestType,
                    "MULTIEXPORT is served only by the WebAPI",
                ))
            } else {
                match multiexport::multi_export(ctx, req).await {
                    Ok((job, name)) => return Reply::Archive(job, name),
                    Err(e) => Err(e),
                }
            }
        }
        other => Err(ApiError::new(
            Code::UnknownMessageType,
            format!("{other} is not a request type this server knows"),
        )),
    };
    Reply::Result(respond(req, result))
}

/// Renders a handler's outcome as the `<RESULT>` document.
pub fn respond(req: &Request, result: Result<Done, ApiError>) -> Response {
    match result {
        Ok(done) => Response {
            request_type: req.request_type.clone(),
            request_id: req.request_id.clone(),
            code: done.code,
            detail: None,
            body: done.body,
        },
        Err(e) => Response {
            request_type: req.request_type.clone(),
            request_id: req.request_id.clone(),
            code: e.code,
            detail: Some(e.message),
            body: Vec::new(),
        },
    }
}

/// Reading parameters with the errors the protocol gives for bad ones.
pub struct Params<'a>(pub &'a Request);

impl<'a> Params<'a> {
    /// The value when present and not blank.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).filter(|v| !v.trim().is_empty())
    }

    /// The value as given, even when blank.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.0.get(name)
    }

    pub fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::new(
                Code::BlankRequiredValue,
                format!("{name} is required and was missing or blank"),
            )
        })
    }

    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|v| {
                wire::values::parse_flag(v)
                    .ok_or_else(|| invalid(format!("{name} must be Y or N, not {v:?}")))
            })
            .transpose()
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(format!("{name} must be a whole number, not {v:?}")))
            })
            .transpose()
    }

    /// ACTION, upper-cased; 26 when missing, 21 when not one of `allowed`.
    pub fn action(&self, allowed: &[&str]) -> Result<String, ApiError> {
        let a = self.required("ACTION")?.trim().to_ascii_uppercase();
        if allowed.contains(&a.as_str()) {
            Ok(a)
        } else {
            Err(ApiError::new(
                Code::InvalidAction,
                format!("ACTION must be one of {}", allowed.join(", ")),
            ))
        }
    }

    /// The first of `names` that is present (even blank), as given.
    pub fn raw_any(&self, names: &[&str]) -> Option<&'a str> {
        names.iter().find_map(|n| self.raw(n))
    }

    /// The first of `names` that is present and not blank; 26 naming the first otherwise.
    pub fn any(&self, names: &[&str]) -> Result<&'a str, ApiError> {
        match names.iter().find_map(|n| self.get(n)) {
            Some(v) => Ok(v),
            None => self.required(names[0]),
        }
    }

    /// The agent a directory request names: AGENTID (a USER_ID), else FIRSTNAME + LASTNAME.
    pub fn agent(&self) -> Result<AgentKey, ApiError> {
        Ok(match self.integer("AGENTID")? {
            Some(id) => AgentKey::Id(id),
            None => AgentKey::Name {
                first: self.any(&FIRST)?.to_string(),
                last: self.any(&LAST)?.to_string(),
            },
        })
    }

    /// A group or role named by its id (`id_param`, which wins) or its name.
    pub fn name_key(&self, id_param: &str, name_param: &str) -> Result<NameKey, ApiError> {
        if let Some(id) = self.integer(id_param)? {
            return Ok(NameKey::Id(id));
        }
        match self.get(name_param) {
            Some(name) => Ok(NameKey::Name(name.to_string())),
            None => Err(ApiError::new(
                Code::BlankRequiredValue,
                format!("{id_param} or {name_param} is required"),
            )),
        }
    }

    /// CALLINSTANCE: absent means "the default" (blank instance or most recent call);
    /// present, even blank, names that instance.
    pub fn instance(&self) -> Option<&'a str> {
        self.raw("CALLINSTANCE")
    }

    /// The CALLSTART/CALLUPDATE metadata fields this request carries. An AGENTID brings
    /// that user's name as AGENTNAME (empty when no user has that USER_ID: integrations may
    /// send agent ids of their own).
    pub async fn meta(&self, ctx: &Ctx) -> Result<MetaUpdate, ApiError> {
        let text = |n: &str| self.raw(n).map(str::to_string);
        let mut m = MetaUpdate {
            station_name: text("STATIONNAME"),
            agent_id: text("AGENTID"),
            ani: text("ANI"),
            dnis: text("DNIS"),
            call_id: text("CALLID"),
            gate: text("GATE"),
            sgroup: text("SGROUP"),
            ..MetaUpdate::default()
        };
        self.retention(&mut m)?;
        if let Some(d) = self.raw("CALLDIRECTION") {
            m.call_direction = Some(if d.trim().is_empty() {
                String::new()
            } else {
                wire::values::parse_direction(d)
                    .ok_or_else(|| invalid(format!("CALLDIRECTION must be I or O, not {d:?}")))?
                    .to_string()
            });
        }
        for (i, slot) in m.user.iter_mut().enumerate() {
            *slot = text(&format!("USER{}", i + 1));
        }
        if let Some(id) = &m.agent_id {
            let name = match id.trim().parse::<i64>() {
                Ok(user_id) => ctx.engine.store().user_name(user_id).await?,
                Err(_) => None,
            };
            m.agent_name = Some(name.unwrap_or_default());
        }
        Ok(m)
    }

    /// KEEPDAYS (a whole number ≥ 0) and ARCHIVEACTION (DELETE, NONE or KEEP, any case),
    /// when given and not blank; 17 for any other value.
    pub fn retention(&self, m: &mut MetaUpdate) -> Result<(), ApiError> {
        if let Some(k) = self.integer("KEEPDAYS")? {
            if k < 0 {
                return Err(invalid("KEEPDAYS must not be negative"));
            }
            m.keep_days = Some(k);
        }
        if let Some(a) = self.get("ARCHIVEACTION") {
            m.archive_action = Some(archive_action(a)?.to_string());
        }
        Ok(())
    }

    /// The device a call-handling request names (§3): DEVICEID when given; else a
    /// directory lookup: DEVICEALIAS (5 when no phone has it), STATIONNAME or COMPUTERNAME
    /// (the station table), SYS_USER or CRM_USER (that agent's phone with the most recent
    /// call, else the first assigned). DEVICEALIAS, SYS_USER and CRM_USER resolve only
    /// through a phone of an active agent; otherwise 8.
    pub async fn device(&self, ctx: &Ctx) -> Result<String, ApiError> {
        if let Some(id) = self.get("DEVICEID") {
            if id.contains(',') {
                return Err(invalid(
                    "DEVICEID names one device here; a comma is not allowed",
                ));
            }
            return device_id(id).map(str::to_string);
        }
        let store = ctx.engine.store();
        if let Some(alias) = self.get("DEVICEALIAS") {
            return match store.phone_by_alias(alias).await? {
                Lookup::Found(device) => Ok(device),
                Lookup::NotFound => Err(ApiError::new(
                    Code::DeviceAliasUnspecified,
                    format!("no phone has the DEVICEALIAS {alias:?}"),
                )),
                Lookup::NoAgentPhone => Err(ApiError::new(
                    Code::DeviceInvalid,
                    format!("the phone with DEVICEALIAS {alias:?} is not an active agent's"),
                )),
            };
        }
        for key in ["STATIONNAME", "COMPUTERNAME"] {
            if let Some(name) = self.get(key) {
                return store.station_device(name).await?.ok_or_else(|| {
                    ApiError::new(Code::DeviceInvalid, format!("no station is named {name:?}"))
                });
            }
        }
        for (key, field) in [
            ("SYS_USER", UserKey::SysUser),
            ("CRM_USER", UserKey::CrmUser),
        ] {
            if let Some(user) = self.get(key) {
                return match store.phone_of_user(field, user).await? {
                    Lookup::Found(device) => Ok(device),
                    Lookup::NotFound | Lookup::NoAgentPhone => Err(ApiError::new(
                        Code::DeviceInvalid,
                        format!("no active agent's phone matches {key} {user:?}"),
                    )),
                };
            }
        }
        Err(ApiError::new(
            Code::DeviceInvalid,
            "no device was named: give DEVICEID, DEVICEALIAS, STATIONNAME, SYS_USER or CRM_USER",
        ))
    }
}

/// The spellings of the first and last name parameters.
pub const FIRST: [&str; 2] = ["FIRSTNAME", "FIRST_NAME"];
pub const LAST: [&str; 2] = ["LASTNAME", "LAST_NAME"];

/// Longest device id (PROTOCOL §3).
pub const MAX_DEVICE_ID_CHARS: usize = 64;

/// Checks one device id's length.
pub fn device_id(id: &str) -> Result<&str, ApiError> {
    if id.chars().count() > MAX_DEVICE_ID_CHARS {
        return Err(ApiError::new(
            Code::BlankRequiredValue,
            format!("DEVICEID is longer than {MAX_DEVICE_ID_CHARS} characters"),
        ));
    }
    Ok(id)
}

/// What ARCHIVEACTION may say: DELETE (the purge deletes the media once KEEPDAYS have
/// passed), NONE or KEEP (never purged).
const ARCHIVE_ACTIONS: [&str; 3] = ["DELETE", "NONE", "KEEP"];

/// An ARCHIVEACTION value in the form results show it (upper case, surrounding blanks
/// ignored); 17 for a value that is not one of [`ARCHIVE_ACTIONS`].
pub fn archive_action(value: &str) -> Result<&'static str, ApiError> {
    let upper = value.trim().to_ascii_uppercase();
    ARCHIVE_ACTIONS
        .into_iter()
        .find(|a| *a == upper)
        .ok_or_else(|| {
            invalid(format!(
                "ARCHIVEACTION must be DELETE, NONE or KEEP, not {value:?}"
            ))
        })
}

/// A well-formed request whose values are not valid.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidMessageShape, message)
}
