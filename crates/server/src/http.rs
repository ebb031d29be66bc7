//! The WebAPI: `/webAPI.aspx` over HTTP, in all four request forms (PROTOCOL §1.1).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use wire::{Code, WireError};

use crate::commands::{Ctx, Media, Reply, Transport, execute};
use crate::packaging;

pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    let header_timeout = ctx.http_request_timeout;
    serve_until_stopped("http", listener, router(ctx), header_timeout, stop).await
}

/// Serves `router` until `stop`, letting requests in progress finish. Shared by the WebAPI
/// and the admin listener. A client that has not sent a request's headers `header_timeout`
/// after connecting or after its previous request (one that trickles them in, or sits
/// idle) is disconnected, so it cannot hold a connection forever. That timeout is why
/// connections are served with hyper's HTTP/1 builder here: `axum::serve` cannot be given
/// one.
pub async fn serve_until_stopped(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    header_timeout: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait for some to be released.
                tracing::warn!(error = %e, "{name} listener cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "{name} connection ended");
            }
        });
    }
    // New connections are refused at once rather than left waiting while these finish.
    drop(listener);
    connections.shutdown().await;
}

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

fn xml(status: StatusCode, doc: wire::Response) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        doc.encode(),
    )
        .into_response()
}

/// A request that could not be read: `status` and a code-16 `<RESULT>` saying why.
fn unreadable(status: StatusCode, message: String) -> Response {
    let err = WireError::new(Code::InvalidMessageFormat, message);
    xml(status, wire::Response::from_error(err))
}

fn too_large(limit: usize) -> Response {
    unreadable(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request is larger than {limit} bytes"),
    )
}

/// Whether reading a body failed because it was over the limit (and not, say, cut short).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

async fn handle(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_ascii_lowercase();
    if path != "/webapi.aspx" && path != "/webapi" {
        return (
            StatusCode::NOT_FOUND,
            "not found: the WebAPI is at /webAPI.aspx\n",
        )
            .into_response();
    }
    if method != Method::GET && method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST")],
            "the WebAPI takes GET or POST\n",
        )
            .into_response();
    }
    let limit = ctx.limits.max_request_bytes;
    let query = uri.query().unwrap_or("");
    if query.len() > limit {
        return too_large(limit);
    }
    // A body trickled in (or never finished) must not hold the connection for ever.
    let timeout = ctx.http_request_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit - query.len()));
    let bytes = match read.await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) if is_length_limit(&e) => return too_large(limit),
        Err(_) => {
            let waited = humantime::format_duration(timeout);
            let why = format!("the request body was not received within {waited}");
            return unreadable(StatusCode::REQUEST_TIMEOUT, why);
        }
        Ok(Err(e)) => {
            let why = format!("the request body could not be read: {e}");
            return unreadable(StatusCode::BAD_REQUEST, why);
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let parsed = match first {
        None => wire::parse_query(query, &ctx.limits),
        Some(b'<') => wire::parse_xml(&bytes, &ctx.limits),
        Some(_) if content_type.contains("xml") => wire::parse_xml(&bytes, &ctx.limits),
        Some(_) => wire::parse_form(query, &bytes, &ctx.limits),
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return xml(StatusCode::OK, wire::Response::from_error(e)),
    };
    // A client that hangs up must not cancel a command half-way through: it runs to the end
    // on its own task, and only its answer is lost.
    let task = {
        let (ctx, req) = (ctx.clone(), req.clone());
        tokio::spawn(async move { execute(&ctx, &req, Transport::Http).await })
    };
    let reply = match task.await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            Reply::Result(crate::commands::respond(
                &req,
                Err(engine::ApiError::new(
                    Code::ErrorProcessingMessage,
                    "the request could not be processed",
                )),
            ))
        }
    };
    match reply {
        Reply::Result(doc) => xml(StatusCode::OK, doc),
        Reply::Media(media) => media_response(&req, media)
            .await
            .unwrap_or_else(|doc| xml(StatusCode::OK, doc)),
        Reply::Archive(job, file_name) => send_archive(job, file_name),
    }
}

/// A recording in its export format as an attachment, streamed, so memory does not grow with
/// its size; in an AES-256 encrypted ZIP when the request gave a password. Shared by EXPORT
/// and the supervisor page's media endpoint. A file that cannot be made is `req`'s
/// `<RESULT>` with code 31 and why.
pub async fn media_response(req: &wire::Request, media: Media) -> Result<Response, wire::Response> {
    let zipped = media.password.is_some();
    let file = open_media(media.clone()).await.map_err(|why| {
        tracing::error!(path = %media.path.display(), format = %media.format, error = %why, "recording cannot be exported");
        crate::commands::respond(req, Err(engine::ApiError::new(Code::RecordingNotFound, why)))
    })?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let (content_type, file_name) = if zipped {
        ("application/zip", format!("{}.zip", media.record_id))
    } else {
        (media.format.content_type(), media.file_name())
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(attachment(body, content_type, &file_name, len))
}

fn attachment(
    body: Body,
    content_type: &'static str,
    file_name: &str,
    len: Option<u64>,
) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    }
    response
}

/// The file to stream, built on a blocking thread: the stored WAV or the recording encoded
/// into a temporary file beside the recordings (see [`packaging::encoded`]), zipped when
/// encrypted. Either way the response carries a Content-Length.
async fn open_media(media: Media) -> Result<tokio::fs::File, String> {
    let format = media.format;
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
        let dir = media
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let file = packaging::encoded(&media.path, media.format, media.options, &dir)?;
        match &media.password {
            Some(password) => packaging::zipped(
                file,
                &media.file_name(),
                media.modified,
                media.format,
                password,
                &dir,
            ),
            None => Ok(file),
        }
    })
    .await
    .map_err(|e| format!("{format} export failed: {e}"))??;
    Ok(tokio::fs::File::from_std(file))
}

/// MULTIEXPORT's ZIP, streamed while it is written: a blocking thread writes the archive
/// through a bounded channel (a few 64 KiB chunks) that feeds the response body, so memory
/// does not grow with the number or size of the recordings, and a slow client slows the
/// writer down. A failure half-way cuts the connection (the client sees an incomplete
/// response, not a short file that looks complete).
pub fn send_archive(job: packaging::Multi, file_name: String) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let writer = packaging::ChannelWriter::new(tx.clone());
    tokio::task::spawn_blocking(move || {
        if let Err(why) = packaging::write_multi(job, writer) {
            tracing::warn!(error = %why, "MULTIEXPORT stopped");
            let _ = tx.blocking_send(Err(std::io::Error::other(why)));
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    attachment(body, "application/zip", &file_name, None)
}
