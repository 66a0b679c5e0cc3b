//! One client connection: read a frame, answer it, repeat.
//!
//! Contract: a frame's length is checked against `socket.request.max.bytes` before its buffer is
//! allocated. Requests are handled one at a time in arrival order (as Kafka mutes a channel while
//! a request is in flight), so pipelined requests are answered in correlation-id order and a
//! producer's batches reach each partition in the order sent. Responses are buffered and flushed
//! when no further request is already waiting in the read buffer. A response is a list of
//! segments (`encode_segments`): a Fetch response's record bytes are the log's own `Bytes`, never
//! copied into the frame. Responses shorter than `DIRECT_WRITE_BYTES_MIN` are copied into the
//! write buffer as before; longer ones flush what is buffered (earlier responses, so the order
//! holds) and go to the socket with vectored writes straight from their segments, so the records
//! are copied once, by the kernel. A malformed frame, an unknown
//! API key or an unsupported version of anything but ApiVersions closes this connection only,
//! with a log line. A connection idle (or stalled mid-frame) for `connections.max.idle.ms` is
//! closed. On shutdown the request in hand is finished, then the connection closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Broker;
use super::handlers::{self, ConnectionState};
use crate::protocol::codec::encode_api_versions_unsupported;
use crate::protocol::fetch_encode::encode_fetch_response_frame;
use crate::protocol::{
    ApiKey, FRAME_PREFIX_BYTES, ProtocolError, Response, decode_request, encode_response,
    frame_body_len,
};

const READ_BUFFER_BYTES: usize = 64 * 1024;
const WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// Responses at least this long bypass the write buffer: copying them into it would cost more
/// than the extra write call it saves.
const DIRECT_WRITE_BYTES_MIN: usize = 32 * 1024;
/// Segments handed to one vectored write (well under any IOV_MAX).
const IOVECS_PER_WRITE_MAX: usize = 64;

pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<str>,
    shutdown: watch::Receiver<bool>,
) {
    serve_on(broker, stream, peer, listener, shutdown, false).await
}

/// Serves one connection of the client listener, or (`controller`) of the controller listener:
/// there only the controller's table of APIs is served and operations run on this node's
/// controller without being forwarded again (`CONNECTION_SCOPE`).
pub async fn serve_on(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<str>,
    shutdown: watch::Receiver<bool>,
    controller: bool,
) {
    // The scope is a constant of the connection: set once around its whole life, and only when
    // it differs from the default (wrapping each handler future in scopes moved it twice per
    // request, and every poll through a scope swaps the value in and out: benches/RESULTS.md).
    let requests = serve_requests(broker.clone(), stream, peer, shutdown, controller);
    if super::needs_connection_scope(&broker, &listener, controller) {
        let scope = super::ConnectionScope {
            on_controller_listener: controller,
            listener,
        };
        super::CONNECTION_SCOPE.scope(scope, requests).await
    } else {
        requests.await
    }
}

/// The request loop of one connection, inside the scope `serve_on` sets when it needs one.
async fn serve_requests(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    controller: bool,
) {
    let versions = if controller {
        &broker.controller_versions
    } else {
        &broker.versions
    };
    let (rd, wr) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, rd);
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, wr);
    let mut state = ConnectionState::new(peer);
    let request_bytes_max = broker.config.socket_request_max_bytes;
    // A connection that sends nothing, or stops mid-frame, for this long gives up its slot.
    let idle_ms_max = Duration::from_millis(broker.config.connections_max_idle_ms.max(1) as u64);
    loop {
        let mut prefix = [0u8; FRAME_PREFIX_BYTES];
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            r = tokio::time::timeout(idle_ms_max, reader.read_exact(&mut prefix)) => match r {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => break, // peer closed or the read failed: nothing to answer
                Err(_) => {
                    tracing::info!(%peer, "closing idle connection (connections.max.idle.ms)");
                    break;
                }
            },
        }
        let len = match frame_body_len(prefix, request_bytes_max) {
            Ok(len) => len,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: bad frame length");
                break;
            }
        };
        // Read into uninitialised capacity: zero-filling first would be one more pass over every
        // produced byte.
        let mut frame = BytesMut::with_capacity(len);
        match tokio::time::timeout(idle_ms_max, read_frame(&mut reader, &mut frame, len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "connection closed mid-frame");
                break;
            }
            Err(_) => {
                tracing::info!(%peer, "closing connection stalled mid-frame (connections.max.idle.ms)");
                break;
            }
        }
        let out = match decode_request(frame.freeze(), versions) {
            Ok(request)
                if broker.links.inbound_cut() && (controller || is_replica_fetch(&request)) =>
            {
                tracing::debug!(%peer, api_key = ?request.api_key, "peer request dropped: links cut");
                break;
            }
            Ok(request) => {
                let (api_key, version, correlation_id) =
                    (request.api_key, request.version, request.correlation_id);
                let from_peer = controller || is_replica_fetch(&request);
                let handled = handlers::handle(&broker, &mut state, request).await;
                if from_peer && broker.links.inbound_cut() {
                    break; // cut while the request was in hand (a parked replica fetch)
                }
                match handled {
                    Some(response) => match encode_segments(correlation_id, version, &response) {
                        Ok(segments) => segments,
                        Err(e) => {
                            tracing::error!(%peer, ?api_key, version, error = %e, "closing connection: response encoding failed");
                            break;
                        }
                    },
                    None => continue, // acks=0: Kafka sends no response
                }
            }
            Err(ProtocolError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                correlation_id,
                ..
            }) => {
                match encode_api_versions_unsupported(
                    correlation_id,
                    versions,
                    super::error_code::code::UNSUPPORTED_VERSION,
                ) {
                    Ok(bytes) => vec![bytes.freeze()],
                    Err(_) => break,
                }
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: request rejected");
                break;
            }
        };
        if write_segments(&mut writer, &out).await.is_err() {
            break;
        }
        if reader.buffer().is_empty() && writer.flush().await.is_err() {
            break;
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
}

/// A follower's Fetch (a replica id in the request): inter-node traffic, even on a client
/// listener.
fn is_replica_fetch(frame: &crate::protocol::RequestFrame) -> bool {
    match &frame.request {
        crate::protocol::Request::Fetch(r) => {
            r.replica_id.0 >= 0 || r.replica_state.replica_id.0 >= 0
        }
        _ => false,
    }
}

/// Encodes a response frame as segments: a Fetch response with its records shared, not copied;
/// anything else as one segment.
fn encode_segments(
    correlation_id: i32,
    version: i16,
    response: &Response,
) -> Result<Vec<Bytes>, ProtocolError> {
    match response {
        Response::Fetch(fetch) => encode_fetch_response_frame(correlation_id, version, fetch),
        _ => encode_response(correlation_id, version, response).map(|b| vec![b.freeze()]),
    }
}

/// Writes one response frame after those already buffered: a short one into the buffer, a long
/// one (after flushing the buffer) straight to the socket from its segments.
async fn write_segments<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    segments: &[Bytes],
) -> std::io::Result<()> {
    let total: usize = segments.iter().map(Bytes::len).sum();
    if total < DIRECT_WRITE_BYTES_MIN {
        for segment in segments {
            writer.write_all(segment).await?;
        }
        return Ok(());
    }
    writer.flush().await?;
    write_all_vectored(writer.get_mut(), segments).await
}

/// `write_all` over a list of buffers, with vectored writes that may each take only a part.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    writer: &mut W,
    segments: &[Bytes],
) -> std::io::Result<()> {
    // The first unwritten byte is `segments[index][offset]`.
    let (mut index, mut offset) = (0usize, 0usize);
    loop {
        while segments.get(index).is_some_and(|s| offset >= s.len()) {
            index += 1;
            offset = 0;
        }
        let Some(rest) = segments.get(index..).filter(|r| !r.is_empty()) else {
            return Ok(());
        };
        let slices: Vec<std::io::IoSlice<'_>> = rest
            .iter()
            .take(IOVECS_PER_WRITE_MAX)
            .enumerate()
            .map(|(i, s)| {
                let from = if i == 0 { offset } else { 0 };
                std::io::IoSlice::new(s.get(from..).unwrap_or_default())
            })
            .collect();
        let mut written = writer.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let Some(segment) = segments.get(index) else {
                break;
            };
            let left = segment.len().saturating_sub(offset);
            if written < left {
                offset += written;
                written = 0;
            } else {
                written -= left;
                index += 1;
                offset = 0;
            }
        }
    }
}

/// Reads exactly `len` bytes into `frame`'s spare capacity.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut R,
    frame: &mut BytesMut,
    len: usize,
) -> std::io::Result<()> {
    while frame.len() < len {
        let mut limited = (&mut *reader).take((len - frame.len()) as u64);
        if limited.read_buf(frame).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// A socket that takes at most `step` bytes per write call, vectored or not.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.step - n);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                if n == self.step {
                    break;
                }
            }
            self.calls += 1;
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn segments(sizes: &[usize], fill: u8) -> Vec<Bytes> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| Bytes::from(vec![fill.wrapping_add(i as u8); *n]))
            .collect()
    }

    #[tokio::test]
    async fn partial_vectored_writes_deliver_every_byte_in_order() {
        let sizes = [3, 0, 70_000, 1, 0, 5, 40_000, 2];
        let many: Vec<usize> = (0..200).map(|i| i % 7).collect();
        for sizes in [&sizes[..], &many[..], &[][..], &[0, 0][..]] {
            let segs = segments(sizes, 1);
            for step in [1, 2, 7, 4096, 1 << 20] {
                if step == 1 && sizes.iter().sum::<usize>() > 1000 {
                    continue;
                }
                let mut w = Trickle {
                    out: Vec::new(),
                    step,
                    calls: 0,
                };
                write_all_vectored(&mut w, &segs).await.unwrap();
                assert_eq!(w.out, segs.concat(), "step {step}");
            }
        }
    }

    #[tokio::test]
    async fn a_large_response_follows_the_buffered_ones() {
        let mut writer = BufWriter::with_capacity(
            WRITE_BUFFER_BYTES,
            Trickle {
                out: Vec::new(),
                step: 1 << 20,
                calls: 0,
            },
        );
        let small = segments(&[10, 20], 1);
        let large = segments(&[30, 100_000, 30, 100_000, 5], 9);
        write_segments(&mut writer, &small).await.unwrap();
        assert!(
            writer.get_ref().out.is_empty(),
            "small responses wait in the buffer"
        );
        write_segments(&mut writer, &large).await.unwrap();
        write_segments(&mut writer, &small).await.unwrap();
        writer.flush().await.unwrap();
        let want = [small.concat(), large.concat(), small.concat()].concat();
        assert_eq!(writer.get_ref().out, want);
        // The buffered responses, the large one in one vectored write, the last small one.
        assert_eq!(writer.get_ref().calls, 3);
    }
}
