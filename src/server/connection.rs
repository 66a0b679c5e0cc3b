//! One client connection: read a frame, answer it, repeat.
//!
//! Contract: a frame's length is checked against `socket.request.max.bytes` before its buffer is
//! allocated. Requests are handled one at a time in arrival order (as Kafka mutes a channel while
//! a request is in flight), so pipelined requests are answered in correlation-id order and a
//! producer's batches reach each partition in the order sent. Responses are buffered and flushed
//! when no further request is already waiting in the read buffer. A malformed frame, an unknown
//! API key or an unsupported version of anything but ApiVersions closes this connection only,
//! with a log line. A connection idle (or stalled mid-frame) for `connections.max.idle.ms` is
//! closed. On shutdown the request in hand is finished, then the connection closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Broker;
use super::handlers::{self, ConnectionState};
use crate::protocol::codec::encode_api_versions_unsupported;
use crate::protocol::{
    ApiKey, FRAME_PREFIX_BYTES, ProtocolError, decode_request, encode_response, frame_body_len,
};

const READ_BUFFER_BYTES: usize = 64 * 1024;
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
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
        let out = match decode_request(frame.freeze(), &broker.versions) {
            Ok(request) => {
                let (api_key, version, correlation_id) =
                    (request.api_key, request.version, request.correlation_id);
                match handlers::handle(&broker, &mut state, request).await {
                    Some(response) => match encode_response(correlation_id, version, &response) {
                        Ok(bytes) => bytes,
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
                    &broker.versions,
                    super::error_code::code::UNSUPPORTED_VERSION,
                ) {
                    Ok(bytes) => bytes,
                    Err(_) => break,
                }
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: request rejected");
                break;
            }
        };
        if writer.write_all(&out).await.is_err() {
            break;
        }
        if reader.buffer().is_empty() && writer.flush().await.is_err() {
            break;
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
}

/// Reads exactly `len` bytes into `frame`'s spare capacity.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(reader: &mut R, frame: &mut BytesMut, len: usize) -> std::io::Result<()> {
    while frame.len() < len {
        let mut limited = (&mut *reader).take((len - frame.len()) as u64);
        if limited.read_buf(frame).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}
