//! The Kafka wire protocol, sans I/O: frame lengths, request headers, the supported-version table,
//! request decoding and response encoding.
//!
//! Contract: this module is the only one that imports `kafka_protocol`; the rest of the crate sees
//! the message types through the re-exports below (`protocol::msg`). Nothing here touches a socket,
//! tokio, or broker state. Decoding never panics on input: every failure is a `ProtocolError`.
//! Bytes after a request body are ignored (librdkafka 2.12+ sends Metadata v13 with trailing bytes).
//! Versions Kafka 4 removed but Gregor serves (KIP-896) are hand-coded in `legacy`.
//! Must not import: tokio, server, log, group, txn, replication, controller.

pub mod codec;
pub mod fetch_encode;
pub mod frame;
pub mod legacy;
pub mod records;
pub mod versions;

pub use codec::{
    Request, RequestFrame, Response, decode_request, decode_response, encode_request,
    encode_response,
};
pub use frame::{FRAME_PREFIX_BYTES, frame_body_len};
/// The message traits, for code that sends requests (`encode_request`, `decode_response`).
pub use kafka_protocol::protocol::{Decodable, Encodable};
pub use versions::{ApiVersionTable, VersionRange};

/// The message types, re-exported so handlers never name `kafka_protocol` themselves.
pub mod msg {
    pub use kafka_protocol::messages::*;
    pub use kafka_protocol::protocol::StrBytes;
}

pub use kafka_protocol::messages::ApiKey;
pub use uuid::Uuid;

/// What can go wrong between a frame's bytes and a typed request.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error(
        "frame length {len_bytes} is negative or exceeds socket.request.max.bytes ({max_bytes})"
    )]
    FrameTooLarge { len_bytes: i64, max_bytes: usize },
    #[error("frame of {len_bytes} bytes is too short for a request header")]
    FrameTooShort { len_bytes: usize },
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16, correlation_id: i32 },
    #[error("{api_key:?} version {version} is not supported (supported {min}..={max})")]
    UnsupportedVersion {
        api_key: ApiKey,
        version: i16,
        min: i16,
        max: i16,
        correlation_id: i32,
    },
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        reason: String,
    },
    #[error("cannot encode a {api_key:?} v{version} message: {reason}")]
    Encode {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}
