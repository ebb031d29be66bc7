//! The metrics the admin listener serves at `/metrics` (Prometheus / OpenMetrics text).
//!
//! Requests are counted in one place, the dispatcher ([`crate::commands::execute`]); the
//! gauges (calls, recordings, channels) and the capture counters are read from their owners
//! when `/metrics` is scraped, so they never drift from what SYSTEMSTATUS shows.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::commands::{Ctx, Transport};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    r#type: String,
    code: u32,
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// 0.5 ms … about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric the server exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<TypeLabel>,
    active_calls: Gauge,
    active_recordings: Gauge,
    free_channels: Gauge,
    capture_packets: Family<SourceLabel, Counter>,
    capture_dropped: Family<SourceLabel, Counter>,
    pub event_clients: Gauge,
    pub live_clients: Gauge,
    pub events_missed: Counter,
    store_commit_seconds: Histogram,
    pub purged_recordings: Counter,
    pub purged_bytes: Counter,
    pub purge_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("callvault");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API requests answered, by request type, result code and transport",
            requests.clone(),
        );
        let request_seconds: HistogramFamily<TypeLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time to run an API request, by request type",
            Unit::Seconds,
            request_seconds.clone(),
        );
        let active_calls = Gauge::default();
        registry.register("active_calls", "Live calls", active_calls.clone());
        let active_recordings = Gauge::default();
        registry.register(
            "active_recordings",
            "Recordings in progress",
            active_recordings.clone(),
        );
        let free_channels = Gauge::default();
        registry.register(
            "free_channels",
            "Recording channels not in use",
            free_channels.clone(),
        );
        let capture_packets = Family::<SourceLabel, Counter>::default();
        registry.register(
            "capture_packets",
            "Packets read by each capture source",
            capture_packets.clone(),
        );
        let capture_dropped = Family::<SourceLabel, Counter>::default();
        registry.register(
            "capture_dropped_packets",
            "Packets each capture source dropped",
            capture_dropped.clone(),
        );
        let event_clients = Gauge::default();
        registry.register(
            "event_clients",
            "Clients connected to the events port",
            event_clients.clone(),
        );
        let live_clients = Gauge::default();
        registry.register(
            "live_clients",
            "Live streams (the supervisor page's /api/live) open on the admin listener",
            live_clients.clone(),
        );
        let events_missed = Counter::default();
        registry.register(
            "events_missed",
            "Events dropped for clients of the events port that did not keep up",
            events_missed.clone(),
        );
        let store_commit_seconds = latency_histogram();
        registry.register_with_unit(
            "store_commit_duration",
            "Time to run one catalog write transaction (group commit)",
            Unit::Seconds,
            store_commit_seconds.clone(),
        );
        let purged_recordings = Counter::default();
        registry.register(
            "purged_recordings",
            "Recordings the retention purge marked purged (their media deleted)",
            purged_recordings.clone(),
        );
        let purged_bytes = Counter::default();
        registry.register_with_unit(
            "purged",
            "Bytes of media files the retention purge deleted",
            Unit::Bytes,
            purged_bytes.clone(),
        );
        let purge_failures = Counter::default();
        registry.register(
            "purge_failures",
            "Media files the retention purge could not delete (tried again by the next run)",
            purge_failures.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            active_calls,
            active_recordings,
            free_channels,
            capture_packets,
            capture_dropped,
            event_clients,
            live_clients,
            events_missed,
            store_commit_seconds,
            purged_recordings,
            purged_bytes,
            purge_failures,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, request_type: &str, code: u32, transport: Transport, took: Duration) {
        let transport = match transport {
            Transport::Http => "http",
            Transport::Socket => "socket",
            Transport::Admin => "admin",
        };
        self.requests
            .get_or_create(&RequestLabels {
                r#type: request_type.to_string(),
                code,
                transport,
            })
            .inc();
        self.request_seconds
            .get_or_create(&TypeLabel {
                r#type: request_type.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A histogram observer for the store's writer.
    pub fn commit_observer(&self) -> impl Fn(Duration) + Send + Sync + 'static {
        let h = self.store_commit_seconds.clone();
        move |took| h.observe(took.as_secs_f64())
    }

    /// Reads the live figures, then encodes everything.
    async fn render(&self, ctx: &Ctx) -> Result<String, std::fmt::Error> {
        let s = ctx.engine.status().await;
        self.active_calls.set(to_i64(s.active_calls));
        self.active_recordings.set(to_i64(s.active_recordings));
        self.free_channels
            .set(to_i64(s.channels.saturating_sub(s.channels_in_use)));
        for source in ctx.captures.list() {
            let label = SourceLabel {
                source: source.name.clone(),
            };
            let packets = source.stats.packets.load(Ordering::Relaxed);
            let dropped = source.stats.dropped_packets.load(Ordering::Relaxed);
            // The sources own their counters: the exported ones mirror them.
            self.capture_packets
                .get_or_create(&label)
                .inner()
                .store(packets, Ordering::Relaxed);
            self.capture_dropped
                .get_or_create(&label)
                .inner()
                .store(dropped, Ordering::Relaxed);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Keeps the connected-clients gauge right however a connection ends.
pub struct ClientGuard(Gauge);

impl ClientGuard {
    pub fn new(gauge: &Gauge) -> ClientGuard {
        gauge.inc();
        ClientGuard(gauge.clone())
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `/metrics`.
pub async fn metrics(State(ctx): State<Arc<Ctx>>) -> Response {
    match ctx.metrics.render(&ctx).await {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics could not be encoded\n",
        )
            .into_response(),
    }
}
