//! openraft's RPCs between controllers over TCP: the client side (`Network`, openraft's
//! `RaftNetworkFactory`) and the server side (`serve`) that hands incoming RPCs to the local Raft.
//!
//! Contract: one TCP connection per peer, shared by every openraft client of that peer and used
//! for one request/reply at a time; any error or timeout drops it, and the next call reconnects.
//! Every wait is bounded: connecting and each exchange by `controller.quorum.request.timeout.ms`
//! (AppendEntries, KRaft's Fetch, by `controller.quorum.fetch.timeout.ms`), each also capped by the
//! deadline openraft passes in `RPCOption`. The server waits for a peer's next frame without limit
//! (an idle peer is normal) but bounds reading a frame's body and writing the reply.
//! Wire format: frames `[u32 BE body length][body = JSON of RpcRequest / RpcReply]`, a length above
//! `CONTROLLER_FRAME_BYTES_MAX` closes the connection. Snapshots travel as openraft's
//! InstallSnapshot chunks of at most `SNAPSHOT_CHUNK_BYTES_MAX`.
//! Lock order: the `peers` map, then a peer's connection (the map lock is never held across an
//! await). Must not import: protocol, server, group, replication.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes, Raft, RaftNetwork, RaftNetworkFactory};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::raft_store::{NodeId, TypeConfig};
use crate::links::PeerLinks;

/// The largest RPC frame sent or accepted between controllers.
pub const CONTROLLER_FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;
/// openraft's snapshot chunk size, well under the frame limit (JSON of bytes is ~4x larger).
pub const SNAPSHOT_CHUNK_BYTES_MAX: u64 = 1024 * 1024;

/// The RPC time bounds, named after KRaft's settings.
#[derive(Debug, Clone, Copy)]
pub struct RpcTimeouts {
    /// `controller.quorum.request.timeout.ms`: connect, Vote, InstallSnapshot.
    pub request_timeout: Duration,
    /// `controller.quorum.fetch.timeout.ms`: AppendEntries, KRaft's Fetch.
    pub fetch_timeout: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
enum RpcRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
}

#[derive(Debug, Serialize, Deserialize)]
enum RpcReply {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {CONTROLLER_FRAME_BYTES_MAX}-byte limit")]
    TooLarge(usize),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("frame body does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("reply does not match the request")]
    Mismatch,
}

async fn write_frame<T: Serialize>(stream: &mut TcpStream, msg: &T) -> Result<(), FrameError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > CONTROLLER_FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(body.len()));
    }
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    stream.write_all(&buf).await?;
    Ok(())
}

async fn read_len(stream: &mut TcpStream) -> Result<usize, FrameError> {
    let len = stream.read_u32().await? as usize;
    if len > CONTROLLER_FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

async fn read_body<T: for<'de> Deserialize<'de>>(
    stream: &mut TcpStream,
    len: usize,
) -> Result<T, FrameError> {
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// Why one call to a peer failed, before it is turned into openraft's error.
#[derive(Debug)]
enum CallError {
    Unreachable(std::io::Error),
    Network(FrameError),
    Timeout(Duration),
}

/// A peer's one connection, `None` until connected or after a failure.
type SharedConn = Arc<tokio::sync::Mutex<Option<TcpStream>>>;

/// openraft's network factory: clients for peers, sharing one connection per peer.
#[derive(Debug, Clone)]
pub struct Network {
    id: NodeId,
    timeouts: RpcTimeouts,
    peers: Arc<Mutex<HashMap<NodeId, SharedConn>>>,
    links: Arc<PeerLinks>,
}

impl Network {
    pub fn new(id: NodeId, timeouts: RpcTimeouts, links: Arc<PeerLinks>) -> Network {
        Network {
            id,
            timeouts,
            peers: Arc::default(),
            links,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        let conn = self
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(target)
            .or_default()
            .clone();
        PeerClient {
            id: self.id,
            target,
            addr: node.addr.clone(),
            timeouts: self.timeouts,
            conn,
            links: self.links.clone(),
        }
    }
}

/// One openraft client of one peer.
#[derive(Debug)]
pub struct PeerClient {
    id: NodeId,
    target: NodeId,
    addr: String,
    timeouts: RpcTimeouts,
    conn: SharedConn,
    links: Arc<PeerLinks>,
}

impl PeerClient {
    async fn call(&self, req: RpcRequest, limit: Duration) -> Result<RpcReply, CallError> {
        let mut guard = tokio::time::timeout(limit, self.conn.lock())
            .await
            .map_err(|_| CallError::Timeout(limit))?;
        if let Err(e) = self.links.check() {
            *guard = None;
            return Err(CallError::Unreachable(e));
        }
        let exchange = async {
            if guard.is_none() {
                let stream = TcpStream::connect(&self.addr)
                    .await
                    .map_err(CallError::Unreachable)?;
                // Small frames, one at a time: don't let Nagle hold a heartbeat back.
                let _ = stream.set_nodelay(true);
                *guard = Some(stream);
            }
            let Some(stream) = guard.as_mut() else {
                return Err(CallError::Network(FrameError::Mismatch));
            };
            write_frame(stream, &req)
                .await
                .map_err(CallError::Network)?;
            let len = read_len(stream).await.map_err(CallError::Network)?;
            read_body::<RpcReply>(stream, len)
                .await
                .map_err(CallError::Network)
        };
        let result = match tokio::time::timeout(limit, exchange).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(limit)),
        };
        // Cut while the exchange was in flight: the answer never arrived.
        let result = result.and_then(|r| {
            self.links.check().map_err(CallError::Unreachable)?;
            Ok(r)
        });
        if result.is_err() {
            // The stream may hold half a frame either way: start clean next time.
            *guard = None;
        }
        result
    }

    fn limit(&self, kafka: Duration, option: &RPCOption) -> Duration {
        kafka.min(option.hard_ttl())
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        action: RPCTypes,
        e: CallError,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        match e {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => RPCError::Network(NetworkError::new(&e)),
            CallError::Timeout(timeout) => RPCError::Timeout(Timeout {
                action,
                id: self.id,
                target: self.target,
                timeout,
            }),
        }
    }

    fn mismatch<E: std::error::Error>(&self) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        RPCError::Network(NetworkError::new(&FrameError::Mismatch))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let limit = self.limit(self.timeouts.fetch_timeout, &option);
        match self.call(RpcRequest::AppendEntries(rpc), limit).await {
            Ok(RpcReply::AppendEntries(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.mismatch()),
            Err(e) => Err(self.rpc_error(RPCTypes::AppendEntries, e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let limit = self.limit(self.timeouts.request_timeout, &option);
        match self.call(RpcRequest::InstallSnapshot(rpc), limit).await {
            Ok(RpcReply::InstallSnapshot(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.mismatch()),
            Err(e) => Err(self.rpc_error(RPCTypes::InstallSnapshot, e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let limit = self.limit(self.timeouts.request_timeout, &option);
        match self.call(RpcRequest::Vote(rpc), limit).await {
            Ok(RpcReply::Vote(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.mismatch()),
            Err(e) => Err(self.rpc_error(RPCTypes::Vote, e)),
        }
    }
}

/// Accepts controller connections on `listener` and answers their RPCs from `raft`, until the
/// returned future is dropped (its connection tasks go with it).
pub async fn serve(
    listener: TcpListener,
    raft: Raft<TypeConfig>,
    timeouts: RpcTimeouts,
    links: Arc<PeerLinks>,
) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let raft = raft.clone();
                let links = links.clone();
                conns.spawn(
                    async move {
                        if let Err(e) = serve_connection(stream, raft, timeouts, links).await {
                            tracing::debug!(%peer, error = %e, "controller connection closed");
                        }
                    }
                    .in_current_span(),
                );
            }
            Err(e) => {
                // Out of descriptors and the like: back off rather than spin.
                tracing::warn!(error = %e, "controller listener accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one peer connection until it closes (the server side of `Network`).
pub async fn serve_connection(
    mut stream: TcpStream,
    raft: Raft<TypeConfig>,
    timeouts: RpcTimeouts,
    links: Arc<PeerLinks>,
) -> Result<(), FrameError> {
    let bound = timeouts.request_timeout;
    let timed_out = || FrameError::Io(std::io::ErrorKind::TimedOut.into());
    loop {
        let len = match read_len(&mut stream).await {
            Ok(len) => len,
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let req: RpcRequest = tokio::time::timeout(bound, read_body(&mut stream, len))
            .await
            .map_err(|_| timed_out())??;
        if links.inbound_cut() {
            return Ok(()); // dropped on the floor, as a cut cable would
        }
        let reply = match req {
            RpcRequest::AppendEntries(r) => RpcReply::AppendEntries(raft.append_entries(r).await),
            RpcRequest::Vote(r) => RpcReply::Vote(raft.vote(r).await),
            RpcRequest::InstallSnapshot(r) => {
                RpcReply::InstallSnapshot(raft.install_snapshot(r).await)
            }
        };
        if links.inbound_cut() {
            return Ok(()); // cut while the request was in hand: the reply is lost
        }
        tokio::time::timeout(bound, write_frame(&mut stream, &reply))
            .await
            .map_err(|_| timed_out())??;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_allocation() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client
            .write_all(&((CONTROLLER_FRAME_BYTES_MAX as u32) + 1).to_be_bytes())
            .await
            .unwrap();
        assert!(matches!(
            read_len(&mut server).await,
            Err(FrameError::TooLarge(n)) if n == CONTROLLER_FRAME_BYTES_MAX + 1
        ));
        // A frame whose body is not an RPC is a decode error, not a panic.
        client.write_all(&3u32.to_be_bytes()).await.unwrap();
        client.write_all(b"{x}").await.unwrap();
        let len = read_len(&mut server).await.unwrap();
        assert!(matches!(
            read_body::<RpcRequest>(&mut server, len).await,
            Err(FrameError::Decode(_))
        ));
    }
}
