//! The admin listener: `/metrics` and `/healthz` for monitoring, and the supervisor page —
//! `/` and its assets (hand-written HTML, CSS and JS built into the binary, loading nothing
//! from anywhere else) and the JSON API under `/api/` it reads (see [`api`]).

mod api;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::commands::Ctx;

/// What the admin handlers reach: the server, and the stop signal that ends live streams.
#[derive(Clone)]
struct Admin {
    ctx: Arc<Ctx>,
    stop: watch::Receiver<bool>,
}

impl FromRef<Admin> for Arc<Ctx> {
    fn from_ref(admin: &Admin) -> Arc<Ctx> {
        admin.ctx.clone()
    }
}

pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    let header_timeout = ctx.http_request_timeout;
    let router = router(ctx, stop.clone());
    crate::http::serve_until_stopped("admin", listener, router, header_timeout, stop).await
}

fn router(ctx: Arc<Ctx>, stop: watch::Receiver<bool>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", include_str!("page.html")) }),
        )
        .route(
            "/assets/supervisor.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("page.css")) }),
        )
        .route(
            "/assets/supervisor.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("page.js")) }),
        )
        .route(
            "/assets/favicon.svg",
            get(|| async { asset("image/svg+xml", include_str!("favicon.svg")) }),
        )
        .route("/metrics", get(crate::metrics::metrics))
        .route("/healthz", get(healthz))
        .route("/api/devices", get(api::devices))
        .route("/api/live", get(api::live))
        .route("/api/recordings", get(api::recordings))
        .route("/api/recordings/{record_id}/media", get(api::media))
        .route("/api/status", get(api::status))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: the admin listener serves /, /api/devices, /api/live, \
                 /api/recordings, /api/recordings/{RECORDID}/media, /api/status, /metrics \
                 and /healthz\n",
            )
        })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "the admin listener takes only GET (and HEAD) requests\n",
            )
        })
        .with_state(Admin { ctx, stop })
}

/// The page may load only from callvault itself: the browser enforces it too.
const POLICY: &str =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page and its assets, built into the binary.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        body,
    )
        .into_response()
}

/// 200 `ok` when the catalog answers and a file can be created among the recordings;
/// otherwise 503 and what is wrong.
async fn healthz(State(ctx): State<Arc<Ctx>>) -> Response {
    let mut problems = Vec::new();
    if !ctx.engine.store().ping().await {
        problems.push("the catalog does not answer");
    }
    let recorder = ctx.engine.recorder().clone();
    let usable = tokio::task::spawn_blocking(move || recorder.path_usable())
        .await
        .unwrap_or(false);
    if !usable {
        problems.push("the recording path is not usable");
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("; ")),
        )
            .into_response()
    }
}
