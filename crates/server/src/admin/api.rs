//! The supervisor page's JSON API. The search, media and status endpoints run CALLLIST,
//! EXPORT and SYSTEMSTATUS through the protocol's dispatcher, so filters, validation,
//! result codes and messages are the protocol's; the board's rows are DEVICELIST's, made by
//! the same renderer. A result's body is sent as JSON in the shape of its `<RESULT>`: a
//! field is a string under its name, and the sections of one name are a list of objects
//! under that name, in order. A refused request is answered 400 (404 for a recording that
//! cannot be found) with `{"RESULTCODE": n, "RESULTMSG": "…"}`, RESULTMSG as the
//! `<RESULT>` would have it.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use engine::DeviceView;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use wire::{Code, Node, Request, WireError};

use super::Admin;
use crate::commands::{Ctx, Reply, Transport, execute};
use crate::render;

/// Live updates one browser may have queued before it is sent a fresh snapshot instead.
const LIVE_QUEUE: usize = 16;

/// A `<RESULT>` body as JSON (see the module's documentation).
fn to_json(nodes: &[Node]) -> Map<String, Value> {
    let mut out = Map::new();
    for node in nodes {
        match node {
            Node::Field(name, value) => {
                out.insert(name.clone(), Value::String(value.clone()));
            }
            Node::Section(name, children) => {
                if let Value::Array(items) = out
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    items.push(Value::Object(to_json(children)));
                }
            }
        }
    }
    out
}

/// A refused request's `<RESULT>` as JSON: its code and RESULTMSG.
fn refusal(doc: &wire::Response) -> Response {
    let status = if doc.code == Code::RecordingNotFound {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        Json(json!({"RESULTCODE": doc.code.number(), "RESULTMSG": doc.message()})),
    )
        .into_response()
}

/// A request that could not be read, refused as the WebAPI refuses it.
fn unreadable(e: WireError) -> Response {
    refusal(&wire::Response::from_error(e))
}

/// The request `request_type` whose parameters are the query string, read as the WebAPI
/// reads one (so a duplicate, bad UTF-8 or an over-long value is refused alike).
fn request(ctx: &Ctx, request_type: &str, query: Option<String>) -> Result<Request, WireError> {
    wire::parse_query_as(request_type, query.as_deref().unwrap_or(""), &ctx.limits)
}

/// Runs one command as the protocol would and answers with its JSON, its file or its
/// refusal.
async fn command(ctx: &Ctx, req: Request) -> Response {
    match execute(ctx, &req, Transport::Admin).await {
        Reply::Result(doc) if doc.code.is_success() => Json(to_json(&doc.body)).into_response(),
        Reply::Result(doc) => refusal(&doc),
        Reply::Media(media) => crate::http::media_response(&req, media)
            .await
            .unwrap_or_else(|doc| refusal(&doc)),
        Reply::Archive(job, file_name) => crate::http::send_archive(job, file_name),
    }
}

/// One board row: DEVICELIST's `<DEVICE>` fields, and for the page's clock CALLSECONDS
/// (whole seconds the shown call has lasted, as of this row; empty without a call) and
/// CALLLIVE (Y while that call goes on).
fn device_row(ctx: &Ctx, d: &DeviceView) -> Value {
    let mut row = to_json(&render::device_fields(ctx, d));
    let call = d.call.as_ref().map(|c| &c.call);
    let seconds = call.map(|c| (c.end.unwrap_or_else(engine::now_micros) - c.start) / 1_000_000);
    row.insert(
        "CALLSECONDS".to_string(),
        Value::String(seconds.map(|s| s.max(0).to_string()).unwrap_or_default()),
    );
    let live = call.is_some_and(|c| c.end.is_none());
    row.insert(
        "CALLLIVE".to_string(),
        Value::String(if live { "Y" } else { "N" }.to_string()),
    );
    Value::Object(row)
}

/// The whole board, as DEVICELIST lists it: `{"COUNT": "n", "DEVICE": [row, …]}`.
async fn snapshot(ctx: &Ctx) -> Value {
    let devices = ctx.engine.devices(None).await;
    json!({
        "COUNT": devices.len().to_string(),
        "DEVICE": devices.iter().map(|d| device_row(ctx, d)).collect::<Vec<_>>(),
    })
}

/// `GET /api/devices`.
pub(super) async fn devices(State(ctx): State<Arc<Ctx>>) -> Json<Value> {
    Json(snapshot(&ctx).await)
}

/// `GET /api/live`: server-sent events. First `snapshot` (the whole board), then a `device`
/// event with a device's new row each time the engine applies an event about it. A browser
/// that does not keep up never holds the engine up: [`LIVE_QUEUE`] rows wait for it, then
/// the engine's feed drops the oldest events for it once it is `[events] queue` behind, and
/// it is sent a fresh `snapshot` when it reads again.
pub(super) async fn live(
    State(admin): State<Admin>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = mpsc::channel(LIVE_QUEUE);
    tokio::spawn(feed(admin.ctx, admin.stop, tx));
    Sse::new(ReceiverStream::new(rx).map(Ok)).keep_alive(KeepAlive::default())
}

/// Subscribes before the snapshot is taken, so no change falls between the two. Ends when
/// the browser goes away or the server stops.
async fn feed(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>, tx: mpsc::Sender<SseEvent>) {
    let _connected = crate::metrics::ClientGuard::new(&ctx.metrics.live_clients);
    let mut events = ctx.engine.subscribe().await;
    let snapshot_event = |board: Value| {
        SseEvent::default()
            .event("snapshot")
            .data(board.to_string())
    };
    let mut next = Some(snapshot_event(snapshot(&ctx).await));
    loop {
        if let Some(event) = next.take() {
            tokio::select! {
                sent = tx.send(event) => if sent.is_err() { return },
                _ = stopped(&mut stop) => return,
            }
        }
        let received = tokio::select! {
            received = events.recv() => received,
            _ = tx.closed() => return,
            _ = stopped(&mut stop) => return,
        };
        next = match received {
            Ok(event) if !event.device_id.is_empty() => {
                let ids = [event.device_id.clone()];
                let devices = ctx.engine.devices(Some(&ids)).await;
                devices.first().map(|d| {
                    SseEvent::default()
                        .event("device")
                        .data(device_row(&ctx, d).to_string())
                })
            }
            Ok(_) => None,
            Err(RecvError::Lagged(_)) => Some(snapshot_event(snapshot(&ctx).await)),
            Err(RecvError::Closed) => return,
        };
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// `GET /api/recordings?<CALLLIST parameters>`: CALLLIST's `{"COUNT", "CALL": [...]}`.
pub(super) async fn recordings(State(ctx): State<Arc<Ctx>>, RawQuery(query): RawQuery) -> Response {
    match request(&ctx, "CALLLIST", query) {
        Ok(req) => command(&ctx, req).await,
        Err(e) => unreadable(e),
    }
}

/// `GET /api/recordings/{RECORDID}/media?format=<MEDIA_FORMAT>`: EXPORT by RECORDID.
pub(super) async fn media(
    State(ctx): State<Arc<Ctx>>,
    record_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(Path(record_id)) = record_id else {
        return unreadable(WireError::new(
            Code::InvalidMessageFormat,
            "the RECORDID in the address is not valid UTF-8",
        ));
    };
    let format = match request(&ctx, "EXPORT", query) {
        Ok(req) => req.get("FORMAT").unwrap_or_default().to_string(),
        Err(e) => return unreadable(e),
    };
    let params = [
        ("UNIQUEFIELD", "RECORDID".to_string()),
        ("UNIQUEID", record_id),
        ("MEDIA_FORMAT", format),
    ];
    command(&ctx, Request::new("EXPORT", "1", params)).await
}

/// `GET /api/status`: SYSTEMSTATUS's `{"SYSTEM": [{…, "CAPTURE": [{"SOURCE": [...]}]}]}`.
pub(super) async fn status(State(ctx): State<Arc<Ctx>>) -> Response {
    command(
        &ctx,
        Request::new("SYSTEMSTATUS", "1", Vec::<(String, String)>::new()),
    )
    .await
}
