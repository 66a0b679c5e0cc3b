//! Kafka-framed requests this node sends to other nodes: to the active controller (over its
//! controller listener: BrokerRegistration, BrokerHeartbeat, AlterPartition, AllocateProducerIds,
//! and the admin requests a broker forwards) and to partition leaders (the replica fetcher's Fetch).
//!
//! Contract: a `PeerConn` is one TCP connection used for one request at a time; connecting and
//! every exchange are bounded by the timeout the caller passes, a response frame above
//! `RESPONSE_BYTES_MAX` closes it, and any error leaves the connection unusable (the caller drops
//! it and reconnects). `ControllerChannel::call` finds the active controller through the local
//! quorum's view, retries on NOT_CONTROLLER, connection errors and an unknown leader with a short
//! backoff until its deadline, and never sends to this node itself (the caller runs the operation
//! locally when this node is active).
//! Lock order: `ControllerChannel.conns` is held across the exchange with one controller (calls to
//! the controller are serialised per node; they are rare and short).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Broker;
use super::error_code::BrokerError;
use crate::links::PeerLinks;
use crate::protocol::{ApiKey, Decodable, Encodable, decode_response, encode_request};

/// The largest response frame accepted from a peer (a replica fetch is bounded by
/// `replica.fetch.response.max.bytes`, 10 MiB by default; this leaves room for any setting a
/// test uses and still refuses garbage lengths).
pub const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Pause between attempts to reach the active controller.
const CONTROLLER_RETRY_BACKOFF_MS: u64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("response frame of {0} bytes exceeds the limit")]
    FrameTooLarge(usize),
    #[error("response correlation id {got}, expected {expected}")]
    Correlation { expected: i32, got: i32 },
    #[error("{0}")]
    Protocol(String),
}

/// One connection to a peer's listener.
#[derive(Debug)]
pub struct PeerConn {
    stream: BufReader<TcpStream>,
    next_correlation_id: i32,
    client_id: String,
    links: Arc<PeerLinks>,
}

impl PeerConn {
    pub async fn connect(
        addr: &str,
        timeout: Duration,
        client_id: &str,
        links: &Arc<PeerLinks>,
    ) -> Result<PeerConn, PeerError> {
        links.check().map_err(|source| PeerError::Connect {
            addr: addr.to_string(),
            source,
        })?;
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| PeerError::Timeout(timeout))?
            .map_err(|source| PeerError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(PeerConn {
            stream: BufReader::new(stream),
            next_correlation_id: 1,
            client_id: client_id.to_string(),
            links: links.clone(),
        })
    }

    /// Sends `request` at `version` and waits for its response, within `timeout`.
    pub async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        api_key: ApiKey,
        version: i16,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, PeerError> {
        self.links.check()?;
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = encode_request(api_key, version, correlation_id, &self.client_id, request)
            .map_err(|e| PeerError::Protocol(e.to_string()))?;
        let exchange = async {
            self.stream.get_mut().write_all(&frame).await?;
            let len = self.stream.read_u32().await? as usize;
            if len > RESPONSE_BYTES_MAX {
                return Err(PeerError::FrameTooLarge(len));
            }
            let mut body = BytesMut::zeroed(len);
            self.stream.read_exact(&mut body).await?;
            Ok::<Bytes, PeerError>(body.freeze())
        };
        let body = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| PeerError::Timeout(timeout))??;
        self.links.check()?; // cut while in flight: the answer never arrived
        let (got, response) = decode_response::<Resp>(api_key, version, body)
            .map_err(|e| PeerError::Protocol(e.to_string()))?;
        if got != correlation_id {
            return Err(PeerError::Correlation {
                expected: correlation_id,
                got,
            });
        }
        Ok(response)
    }
}

/// Requests to the active controller.
#[derive(Debug, Default)]
pub struct ControllerChannel {
    conns: tokio::sync::Mutex<HashMap<i32, PeerConn>>,
}

/// What a controller's answer says about where to send next.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Done,
    /// NOT_CONTROLLER: ask the new leader.
    NotController,
}

impl ControllerChannel {
    /// Sends `request` to the active controller until it answers with something other than
    /// NOT_CONTROLLER, or `deadline_ms` passes. `classify` reads the answer's error code.
    pub async fn call<Req: Encodable, Resp: Decodable>(
        &self,
        broker: &Broker,
        api_key: ApiKey,
        version: i16,
        request: &Req,
        deadline_ms: u64,
        classify: impl Fn(&Resp) -> Answer,
    ) -> Result<Resp, BrokerError> {
        let request_timeout =
            Duration::from_millis(broker.config.controller_quorum_request_timeout_ms.max(1) as u64);
        let started = broker.clock.monotonic_ms();
        let deadline = Duration::from_millis(deadline_ms);
        let mut last_error = String::from("no active controller is known");
        loop {
            if broker.clock.monotonic_ms() - started >= deadline.as_millis() as i64 {
                return Err(BrokerError::ControllerUnavailable(last_error));
            }
            let target = broker.controller.active_controller();
            match target {
                Some(id) if id != broker.node_id.0 => {
                    let addr = broker
                        .controller
                        .voters()
                        .get(&(id as u64))
                        .cloned()
                        .unwrap_or_default();
                    match self
                        .exchange(
                            &broker.links,
                            id,
                            &addr,
                            api_key,
                            version,
                            request,
                            request_timeout,
                        )
                        .await
                    {
                        Ok(resp) => {
                            if classify(&resp) == Answer::Done {
                                return Ok(resp);
                            }
                            last_error = format!("node {id} is no longer the active controller");
                        }
                        Err(e) => last_error = format!("controller {id} at {addr}: {e}"),
                    }
                }
                Some(_) => {
                    return Err(BrokerError::Controller(
                        crate::controller::ControllerError::NotController { leader: target },
                    ));
                }
                None => {}
            }
            tokio::time::sleep(Duration::from_millis(CONTROLLER_RETRY_BACKOFF_MS)).await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange<Req: Encodable, Resp: Decodable>(
        &self,
        links: &Arc<PeerLinks>,
        id: i32,
        addr: &str,
        api_key: ApiKey,
        version: i16,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, PeerError> {
        let mut conns = self.conns.lock().await;
        let mut conn = match conns.remove(&id) {
            Some(c) => c,
            None => PeerConn::connect(addr, timeout, "gregor-broker", links).await?,
        };
        let resp = conn.call(api_key, version, request, timeout).await?;
        conns.insert(id, conn);
        Ok(resp)
    }
}

/// NOT_CONTROLLER means "ask the new active controller"; anything else is the answer.
pub fn classify(error_code: Option<i16>) -> Answer {
    if error_code == Some(super::error_code::code::NOT_CONTROLLER) {
        Answer::NotController
    } else {
        Answer::Done
    }
}
