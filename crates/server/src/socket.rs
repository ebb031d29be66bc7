//! The socket API: XML requests on a TCP connection, each answered in order with one
//! `<RESULT>` + CR LF (PROTOCOL §1.2).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use wire::{Frame, SocketFramer};

use crate::commands::{Ctx, Reply, Transport, execute};

/// Serves connections until `stop`, then waits for the requests in progress on them.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    accept_until_stopped("socket", listener, stop, |stream, stop| {
        connection(stream, ctx.clone(), stop)
    })
    .await
}

/// Accepts connections until `stop`, runs `connection` for each, then waits for them all.
/// Shared by the socket API and the events port.
pub async fn accept_until_stopped<F, Fut>(
    name: &'static str,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
    connection: F,
) where
    F: Fn(TcpStream, watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut stopping = stop.clone();
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, stop.clone()));
                }
                Err(e) => {
                    // Typically out of file descriptors: wait for some to be released instead
                    // of spinning on a listener that stays readable.
                    tracing::warn!(error = %e, "{name} accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = stopping.changed() => break,
        }
    }
    connections.close();
    connections.wait().await;
}

async fn answer(ctx: &Ctx, frame: Frame) -> String {
    match frame {
        Frame::Request(req) => match execute(ctx, &req, Transport::Socket).await {
            Reply::Result(doc) => doc.encode(),
            // EXPORT and MULTIEXPORT are refused on this transport before they produce media.
            Reply::Media(_) | Reply::Archive(..) => String::new(),
        },
        Frame::Error(e) => wire::Response::from_error(e).encode(),
    }
}

async fn connection(stream: TcpStream, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let (mut rd, wr) = stream.into_split();
    let mut wr = BufWriter::new(wr);
    let mut framer = SocketFramer::new(ctx.limits.clone());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(frame) = framer.next_frame() {
            if *stop.borrow() {
                // Requests still buffered when the server stops are not started.
                let _ = wr.flush().await;
                return;
            }
            let doc = answer(&ctx, frame).await;
            if wr.write_all(doc.as_bytes()).await.is_err() || wr.write_all(b"\r\n").await.is_err() {
                return;
            }
        }
        if wr.flush().await.is_err() {
            return;
        }
        let read = tokio::select! {
            r = tokio::time::timeout(ctx.socket_partial_timeout, rd.read(&mut buf)) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => {
                // The client closed (or half-closed) its side: answer an unfinished request.
                if let Some(frame) = framer.on_idle_timeout() {
                    let doc = answer(&ctx, frame).await;
                    let _ = wr.write_all(doc.as_bytes()).await;
                    let _ = wr.write_all(b"\r\n").await;
                    let _ = wr.flush().await;
                }
                return;
            }
            Ok(Ok(n)) => framer.push(&buf[..n]),
            Err(_) => {
                if let Some(frame) = framer.on_idle_timeout() {
                    let doc = answer(&ctx, frame).await;
                    if wr.write_all(doc.as_bytes()).await.is_err()
                        || wr.write_all(b"\r\n").await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}
