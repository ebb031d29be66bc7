//! The WebAPI: `/webAPI.aspx` over HTTP, in all four request forms (PROTOCOL §1.1).

use std::io::{Seek, SeekFrom, Write};
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

pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, router(ctx))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "http listener failed");
    }
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

fn too_large(limit: usize) -> Response {
    let err = WireError {
        code: Code::InvalidMessageFormat,
        message: format!("the request is larger than {limit} bytes"),
        request_type: String::new(),
        request_id: String::new(),
    };
    xml(
        StatusCode::PAYLOAD_TOO_LARGE,
        wire::Response::from_error(err),
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
    let bytes = match axum::body::to_bytes(body, limit - query.len()).await {
        Ok(b) => b,
        Err(e) if is_length_limit(&e) => return too_large(limit),
        Err(e) => {
            let err = WireError {
                code: Code::InvalidMessageFormat,
                message: format!("the request body could not be read: {e}"),
                request_type: String::new(),
                request_id: String::new(),
            };
            return xml(StatusCode::BAD_REQUEST, wire::Response::from_error(err));
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
        Reply::Media(media) => send_file(&req, media).await,
    }
}

/// Sends a recording in its export format, streamed, so memory does not grow with its size.
async fn send_file(req: &wire::Request, media: Media) -> Response {
    let file = match open_media(&media).await {
        Ok(f) => f,
        Err(why) => {
            tracing::error!(path = %media.path.display(), format = %media.format, error = %why, "recording cannot be exported");
            let result = crate::commands::respond(
                req,
                Err(engine::ApiError::new(Code::RecordingNotFound, why)),
            );
            return xml(StatusCode::OK, result);
        }
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(media.format.content_type()),
    );
    if let Ok(v) =
        header::HeaderValue::from_str(&format!("attachment; filename=\"{}\"", media.file_name))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    }
    response
}

/// The file to stream: the stored WAV itself, or for another format, the recording encoded
/// on a blocking thread (never on the async runtime) into an anonymous temporary file
/// beside the recordings, which disappears once sent. A file rather than a pipe, because
/// MP3's LAME tag is written last, at the start of the file, and so the response carries
/// a Content-Length.
async fn open_media(media: &Media) -> Result<tokio::fs::File, String> {
    let missing = |e: std::io::Error| {
        tracing::debug!(error = %e, "recording file cannot be opened");
        "the recording's media file is missing".to_string()
    };
    if media.format == ::export::Format::Wav {
        return tokio::fs::File::open(&media.path).await.map_err(missing);
    }
    let path = media.path.clone();
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let format = media.format;
    let encoded = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
        let input = std::fs::File::open(&path).map_err(missing)?;
        let fail = |e: &dyn std::fmt::Display| format!("{format} export failed: {e}");
        let mut out = tempfile::tempfile_in(&dir).map_err(|e| fail(&e))?;
        let mut writer = std::io::BufWriter::new(&mut out);
        ::export::encode(
            format,
            ::export::Options::default(),
            std::io::BufReader::new(input),
            &mut writer,
        )
        .map_err(|e| fail(&e))?;
        writer.flush().map_err(|e| fail(&e))?;
        drop(writer);
        out.seek(SeekFrom::Start(0)).map_err(|e| fail(&e))?;
        Ok(out)
    })
    .await
    .map_err(|e| format!("{format} export failed: {e}"))??;
    Ok(tokio::fs::File::from_std(encoded))
}
