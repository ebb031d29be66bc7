//! Start-up and shutdown: configuration → catalog → recorder → engine → listeners → captures.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use engine::{Engine, EngineConfig};
use tokio::net::TcpListener;

use crate::capture_sources::CaptureSources;
use crate::commands::Ctx;
use crate::config::Config;

/// How long requests in progress may take to finish once a stop is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let tz = config.timezone()?;
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    // The location is shown with any password hidden; the store's own errors never
    // repeat the connection string.
    let store = store::Store::open(&config.database_url())
        .await
        .with_context(|| format!("cannot open the catalog at {}", config.database_display()))?;
    let recordings_dir = config.recordings_dir();
    let (recorder, recovered) =
        tokio::task::spawn_blocking(move || recorder::Recorder::start(&recordings_dir))
            .await?
            .context("cannot start the recorder")?;
    let engine = Engine::start(
        EngineConfig {
            channels: config.recorder.channels,
            min_free_bytes: config.recorder.min_free_bytes,
            auto_create_devices: config.devices.auto_create,
            agent_blackouts: config.blackout.mode == crate::config::BlackoutMode::Agent,
            event_queue: config.events.queue,
            keep_days: config.retention.keep_days.map(i64::from),
            archive_action: config.retention.archive_action.clone(),
        },
        store.clone(),
        recorder,
        recovered,
    )
    .await
    .context("cannot load the catalog")?;
    refresh_disk(&engine).await;
    let disk_engine = engine.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            refresh_disk(&disk_engine).await;
        }
    });

    let captures = CaptureSources::default();
    let ctx = Arc::new(Ctx::new(engine.clone(), &config, tz, captures.clone()));
    store.on_commit(ctx.metrics.commit_observer());

    let http = TcpListener::bind(config.listen.http)
        .await
        .with_context(|| format!("cannot listen on {} (http)", config.listen.http))?;
    let socket = TcpListener::bind(config.listen.socket)
        .await
        .with_context(|| format!("cannot listen on {} (socket)", config.listen.socket))?;
    let events = TcpListener::bind(config.listen.events)
        .await
        .with_context(|| format!("cannot listen on {} (events)", config.listen.events))?;
    let admin = TcpListener::bind(config.listen.admin)
        .await
        .with_context(|| format!("cannot listen on {} (admin)", config.listen.admin))?;
    for (name, l) in [
        ("http", &http),
        ("socket", &socket),
        ("events", &events),
        ("admin", &admin),
    ] {
        let addr = l.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "{name} listener serves other interfaces and authentication is off");
        }
    }
    // The addresses, in one write. Nobody reading them (standard output closed) is no
    // reason to stop serving: say so in the log and go on.
    let addresses = format!(
        "listening http {}\nlistening socket {}\nlistening events {}\nlistening admin {}\n",
        http.local_addr()?,
        socket.local_addr()?,
        events.local_addr()?,
        admin.local_addr()?
    );
    let mut out = std::io::stdout().lock();
    if let Err(e) = out
        .write_all(addresses.as_bytes())
        .and_then(|()| out.flush())
    {
        tracing::warn!(error = %e, "the listening addresses could not be written to standard output");
    }
    drop(out);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http_task = tokio::spawn(crate::http::serve(http, ctx.clone(), stop_rx.clone()));
    let socket_task = tokio::spawn(crate::socket::serve(socket, ctx.clone(), stop_rx.clone()));
    let events_task = tokio::spawn(crate::events_listener::serve(
        events,
        ctx.clone(),
        stop_rx.clone(),
    ));
    let admin_task = tokio::spawn(crate::admin::serve(admin, ctx.clone(), stop_rx.clone()));
    // The retention purge, now and every interval, unless another node sharing the catalog
    // runs it.
    let purge_task = config.retention.purge.then(|| {
        tokio::spawn(crate::purge::run_every(
            ctx.clone(),
            config.retention.purge_interval,
            stop_rx.clone(),
        ))
    });
    let capture_tasks = captures.start(
        &config.capture.files,
        config.capture.speed,
        Duration::from_millis(config.capture.start_delay_ms),
        config.capture.replay_again,
        &engine,
        &stop_rx,
    );

    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    // Requests in progress on either listener, and the capture events being applied, get a
    // moment to finish; a client that sent half a request does not hold the shutdown up.
    for task in [http_task, socket_task, events_task, admin_task]
        .into_iter()
        .chain(purge_task)
        .chain(capture_tasks)
    {
        let abort = task.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
            abort.abort();
        }
    }
    engine.shutdown().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn refresh_disk(engine: &Engine) {
    let e = engine.clone();
    let _ = tokio::task::spawn_blocking(move || e.refresh_disk()).await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
