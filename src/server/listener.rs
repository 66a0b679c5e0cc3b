//! The accept loop.
//!
//! Contract: at most `max.connections` connections are served at once (a connection over the
//! limit is closed at accept with a log line); each connection is its own task, so a bad client
//! harms only itself. On shutdown the loop stops accepting and waits for every connection task.

use std::sync::Arc;
use tracing::Instrument;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::Broker;
use super::connection;

pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    name: Arc<str>,
    mut shutdown: watch::Receiver<bool>,
) {
    let connections_max = broker
        .config
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(connections_max));
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, connections_max, "max.connections reached; closing new connection");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                let name = name.clone();
                tasks.spawn(
                    async move {
                        connection::serve(broker, stream, peer, name, shutdown).await;
                        drop(permit);
                    }
                    .in_current_span(),
                );
                while tasks.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// How long a new controller-listener connection may take to send its first bytes.
const FIRST_BYTES_WAIT_MS: u64 = 10_000;
/// Bytes peeked to tell openraft's frames (JSON after the length) from Kafka's (an api key).
const PEEK_BYTES: usize = 5;

/// The controller listener: openraft peers (frames whose body starts with `{`) go to the quorum,
/// everything else is a Kafka connection limited to the controller's APIs.
pub async fn serve_controller(
    broker: Arc<Broker>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "controller listener accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                if broker.links.inbound_cut() {
                    continue; // fault injection: the peers cannot reach this node
                }
                let _ = stream.set_nodelay(true);
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                tasks.spawn(async move {
                    let mut first = [0u8; PEEK_BYTES];
                    let peeked = tokio::time::timeout(
                        std::time::Duration::from_millis(FIRST_BYTES_WAIT_MS),
                        peek_exact(&stream, &mut first),
                    )
                    .await;
                    if !matches!(peeked, Ok(Ok(()))) {
                        return;
                    }
                    if first[PEEK_BYTES - 1] == b'{' {
                        broker.controller.serve_peer(stream).await;
                    } else {
                        let name = Arc::from(
                            broker.config.controller_listener().map_or("CONTROLLER", |l| l.name.as_str()),
                        );
                        connection::serve_on(broker, stream, peer, name, shutdown, true).await;
                    }
                }.in_current_span());
                while tasks.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

async fn peek_exact(stream: &tokio::net::TcpStream, buf: &mut [u8]) -> std::io::Result<()> {
    loop {
        let n = stream.peek(buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if n >= buf.len() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
