//! Request decoding and response encoding.
//!
//! Contract: `decode_request` reads the api key and version from the first four bytes, checks them
//! against the `ApiVersionTable`, and only then decodes the header and body; trailing bytes after
//! the body are ignored. Produce v0-2 are advertised (librdkafka turns compression off otherwise)
//! but, as in Kafka 4, rejected: they decode into `Request::ProduceLegacy` by hand (the crate has no
//! schema for them) and are answered with UNSUPPORTED_VERSION per partition. The other versions
//! Kafka 4 removed (KIP-896) that Gregor serves are decoded and encoded by `legacy` (see
//! `legacy::SERVED`) into and from the crate's own message structs; the version gate decides
//! whether they are served at all.
//! `encode_response` produces a whole frame: length prefix, response header, body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::frame::HEADER_MIN_BYTES;
use super::legacy;
use super::versions::ApiVersionTable;
use super::{ApiKey, ProtocolError};

/// A Produce v0-2 request, kept only far enough to answer it with an error per partition.
#[derive(Debug, Clone)]
pub struct LegacyProduce {
    pub acks: i16,
    pub topics: Vec<(StrBytes, Vec<i32>)>,
}

/// The answer to a `LegacyProduce`: every partition gets `error_code`.
#[derive(Debug, Clone)]
pub struct LegacyProduceResponse {
    pub error_code: i16,
    pub topics: Vec<(StrBytes, Vec<i32>)>,
}

macro_rules! apis {
    ($($variant:ident => $req:ty, $resp:ty;)*) => {
        /// A decoded request body.
        #[derive(Debug)]
        pub enum Request {
            $($variant($req),)*
            ProduceLegacy(LegacyProduce),
        }

        /// A response body, ready to encode at the request's version.
        #[derive(Debug)]
        pub enum Response {
            $($variant($resp),)*
            ProduceLegacy(LegacyProduceResponse),
        }

        fn decode_body(api_key: ApiKey, buf: &mut Bytes, version: i16) -> anyhow::Result<Option<Request>> {
            Ok(Some(match api_key {
                $(ApiKey::$variant => Request::$variant(<$req>::decode(buf, version)?),)*
                _ => return Ok(None),
            }))
        }

        impl Response {
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Response::$variant(_) => ApiKey::$variant,)*
                    Response::ProduceLegacy(_) => ApiKey::Produce,
                }
            }

            fn encode_body(&self, buf: &mut BytesMut, version: i16) -> anyhow::Result<()> {
                match self {
                    $(Response::$variant(r) => r.encode(buf, version),)*
                    Response::ProduceLegacy(r) => {
                        r.encode(buf, version);
                        Ok(())
                    }
                }
            }
        }
    };
}

apis! {
    Produce => ProduceRequest, ProduceResponse;
    Fetch => FetchRequest, FetchResponse;
    ListOffsets => ListOffsetsRequest, ListOffsetsResponse;
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
    Metadata => MetadataRequest, MetadataResponse;
    ApiVersions => ApiVersionsRequest, ApiVersionsResponse;
    CreateTopics => CreateTopicsRequest, CreateTopicsResponse;
    DeleteTopics => DeleteTopicsRequest, DeleteTopicsResponse;
    InitProducerId => InitProducerIdRequest, InitProducerIdResponse;
    DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
    CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
    DescribeCluster => DescribeClusterRequest, DescribeClusterResponse;
    FindCoordinator => FindCoordinatorRequest, FindCoordinatorResponse;
    JoinGroup => JoinGroupRequest, JoinGroupResponse;
    SyncGroup => SyncGroupRequest, SyncGroupResponse;
    Heartbeat => HeartbeatRequest, HeartbeatResponse;
    LeaveGroup => LeaveGroupRequest, LeaveGroupResponse;
    OffsetCommit => OffsetCommitRequest, OffsetCommitResponse;
    OffsetFetch => OffsetFetchRequest, OffsetFetchResponse;
    DescribeGroups => DescribeGroupsRequest, DescribeGroupsResponse;
    ListGroups => ListGroupsRequest, ListGroupsResponse;
    DeleteGroups => DeleteGroupsRequest, DeleteGroupsResponse;
    OffsetDelete => OffsetDeleteRequest, OffsetDeleteResponse;
    ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse;
    ConsumerGroupDescribe => ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse;
    DescribeLogDirs => DescribeLogDirsRequest, DescribeLogDirsResponse;
    DescribeQuorum => DescribeQuorumRequest, DescribeQuorumResponse;
    ListConfigResources => ListConfigResourcesRequest, ListConfigResourcesResponse;
    DescribeTopicPartitions => DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse;
    BrokerRegistration => BrokerRegistrationRequest, BrokerRegistrationResponse;
    BrokerHeartbeat => BrokerHeartbeatRequest, BrokerHeartbeatResponse;
    AlterPartition => AlterPartitionRequest, AlterPartitionResponse;
    AllocateProducerIds => AllocateProducerIdsRequest, AllocateProducerIdsResponse;
    ElectLeaders => ElectLeadersRequest, ElectLeadersResponse;
    AlterPartitionReassignments => AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse;
    ListPartitionReassignments => ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse;
}

/// One decoded request with what its response needs.
#[derive(Debug)]
pub struct RequestFrame {
    pub api_key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    pub client_id: Option<StrBytes>,
    pub request: Request,
}

/// Reads api key, version and correlation id without decoding anything else.
pub fn peek_header(frame: &[u8]) -> Option<(i16, i16, i32)> {
    let b = frame.get(0..HEADER_MIN_BYTES)?;
    Some((
        i16::from_be_bytes([b[0], b[1]]),
        i16::from_be_bytes([b[2], b[3]]),
        i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    ))
}

/// Decodes one frame body (without its length prefix).
pub fn decode_request(
    mut frame: Bytes,
    table: &ApiVersionTable,
) -> Result<RequestFrame, ProtocolError> {
    let Some((key, version, correlation_id)) = peek_header(&frame) else {
        return Err(ProtocolError::FrameTooShort {
            len_bytes: frame.len(),
        });
    };
    let api_key = ApiKey::try_from(key).map_err(|_| ProtocolError::UnknownApiKey {
        api_key: key,
        correlation_id,
    })?;
    let range = table.range(api_key).ok_or(ProtocolError::UnknownApiKey {
        api_key: key,
        correlation_id,
    })?;
    if !range.contains(version) {
        return Err(ProtocolError::UnsupportedVersion {
            api_key,
            version,
            min: range.min,
            max: range.max,
            correlation_id,
        });
    }
    let malformed = |reason: String| ProtocolError::Malformed {
        api_key,
        version,
        correlation_id,
        reason,
    };
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| malformed(format!("header: {e:#}")))?;
    let request = if api_key == ApiKey::Produce && version < 3 {
        Request::ProduceLegacy(
            legacy::decode_produce_v0_2(&mut frame).map_err(|e| malformed(e.to_string()))?,
        )
    } else if legacy::serves(api_key, version) {
        legacy::decode_request(api_key, version, &mut frame)
            .map_err(|e| malformed(e.to_string()))?
    } else {
        decode_body(api_key, &mut frame, version)
            .map_err(|e| malformed(format!("{e:#}")))?
            .ok_or_else(|| malformed("no decoder for this api".into()))?
    };
    Ok(RequestFrame {
        api_key,
        version,
        correlation_id,
        client_id: header.client_id,
        request,
    })
}

impl LegacyProduceResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) {
        buf.put_i32(self.topics.len() as i32);
        for (name, parts) in &self.topics {
            buf.put_i16(name.len() as i16);
            buf.put_slice(name.as_bytes());
            buf.put_i32(parts.len() as i32);
            for p in parts {
                buf.put_i32(*p);
                buf.put_i16(self.error_code);
                buf.put_i64(-1); // base offset
                if version >= 2 {
                    buf.put_i64(-1); // log append time
                }
            }
        }
        if version >= 1 {
            buf.put_i32(0); // throttle time
        }
    }
}

/// Encodes a whole response frame: length, header, body.
pub fn encode_response(
    correlation_id: i32,
    version: i16,
    response: &Response,
) -> Result<BytesMut, ProtocolError> {
    let api_key = response.api_key();
    // ApiVersions responses always use header v0, so a client that sent a too-new version can read them.
    let header_version = if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    };
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let encode_err = |e: anyhow::Error| ProtocolError::Encode {
        api_key,
        version,
        reason: format!("{e:#}"),
    };
    header
        .encode(&mut buf, header_version)
        .map_err(encode_err)?;
    if legacy::serves(api_key, version) {
        legacy::encode_response(response, version, &mut buf).map_err(|e| encode_err(e.into()))?;
    } else {
        response
            .encode_body(&mut buf, version)
            .map_err(encode_err)?;
    }
    let body_len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&body_len.to_be_bytes());
    Ok(buf)
}

/// The answer to an ApiVersions request whose version we do not support: error 35 in the v0
/// layout, with our table, so the client can retry at a version we speak.
pub fn encode_api_versions_unsupported(
    correlation_id: i32,
    table: &ApiVersionTable,
    error_code: i16,
) -> Result<BytesMut, ProtocolError> {
    let mut response = ApiVersionsResponse::default();
    response.error_code = error_code;
    response.api_keys = table.advertised();
    encode_response(correlation_id, 0, &Response::ApiVersions(response))
}

#[cfg(test)]
mod tests {
    use super::super::versions::VersionRange;
    use super::*;

    fn table() -> ApiVersionTable {
        ApiVersionTable::new([
            (ApiKey::ApiVersions, VersionRange::new(0, 4)),
            (ApiKey::Metadata, VersionRange::new(0, 13)),
            (ApiKey::Produce, VersionRange::new(0, 13)),
        ])
    }

    fn frame(key: ApiKey, version: i16, body: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = version;
        h.correlation_id = 7;
        h.client_id = Some(StrBytes::from_static_str("t"));
        h.encode(&mut b, key.request_header_version(version))
            .unwrap();
        b.put_slice(body);
        b.freeze()
    }

    #[test]
    fn trailing_bytes_after_metadata_body_are_ignored() {
        let mut body = BytesMut::new();
        let req = MetadataRequest::default();
        req.encode(&mut body, 13).unwrap();
        body.put_slice(&[0, 0, 0]);
        let f = decode_request(frame(ApiKey::Metadata, 13, &body), &table()).unwrap();
        assert_eq!(f.correlation_id, 7);
        assert!(matches!(f.request, Request::Metadata(_)));
    }

    #[test]
    fn version_above_range_is_unsupported_and_unknown_key_is_reported() {
        let err = decode_request(frame(ApiKey::Metadata, 14, &[]), &table()).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnsupportedVersion {
                correlation_id: 7,
                ..
            }
        ));
        let mut raw = BytesMut::new();
        raw.put_i16(999);
        raw.put_i16(0);
        raw.put_i32(5);
        let err = decode_request(raw.freeze(), &table()).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnknownApiKey {
                api_key: 999,
                correlation_id: 5
            }
        ));
    }

    #[test]
    fn garbage_bodies_are_errors_not_panics() {
        for len in 0..64 {
            let garbage: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = decode_request(frame(ApiKey::Produce, 9, &garbage), &table());
            let _ = decode_request(frame(ApiKey::Produce, 2, &garbage), &table());
            let _ = decode_request(Bytes::from(garbage), &table());
        }
    }

    #[test]
    fn legacy_produce_is_decoded_and_answered() {
        let mut body = BytesMut::new();
        body.put_i16(1);
        body.put_i32(1000);
        body.put_i32(1);
        body.put_i16(1);
        body.put_slice(b"t");
        body.put_i32(1);
        body.put_i32(0);
        body.put_i32(0);
        let f = decode_request(frame(ApiKey::Produce, 2, &body), &table()).unwrap();
        let Request::ProduceLegacy(p) = f.request else {
            panic!("not legacy")
        };
        assert_eq!(p.topics.len(), 1);
        let out = encode_response(
            7,
            2,
            &Response::ProduceLegacy(LegacyProduceResponse {
                error_code: 35,
                topics: p.topics,
            }),
        )
        .unwrap();
        // length + correlation id + 1 topic (4 + 2 + 1) + 1 partition (4 + 4 + 2 + 8 + 8) + throttle (4)
        assert_eq!(out.len(), 4 + 4 + 7 + 4 + 22 + 4);
    }

    #[test]
    fn api_versions_error_uses_v0_layout() {
        let out = encode_api_versions_unsupported(9, &table(), 35).unwrap();
        assert_eq!(&out[4..8], &9i32.to_be_bytes());
        assert_eq!(&out[8..10], &35i16.to_be_bytes());
        assert_eq!(&out[10..14], &3i32.to_be_bytes());
    }
}

/// A request this node sends (to a controller or a partition leader): whole frame, length first.
pub fn encode_request<R: Encodable>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    request: &R,
) -> Result<BytesMut, ProtocolError> {
    let encode_err = |e: anyhow::Error| ProtocolError::Encode {
        api_key,
        version,
        reason: format!("{e:#}"),
    };
    let mut buf = BytesMut::with_capacity(128);
    buf.put_i32(0);
    let mut header = RequestHeader::default();
    header.request_api_key = api_key as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_string(client_id.to_string()));
    header
        .encode(&mut buf, api_key.request_header_version(version))
        .map_err(encode_err)?;
    request.encode(&mut buf, version).map_err(encode_err)?;
    let body_len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&body_len.to_be_bytes());
    Ok(buf)
}

/// Decodes a response frame body (after the length): its correlation id and the message.
pub fn decode_response<R: Decodable>(
    api_key: ApiKey,
    version: i16,
    mut frame: Bytes,
) -> Result<(i32, R), ProtocolError> {
    let malformed = |reason: String| ProtocolError::Malformed {
        api_key,
        version,
        correlation_id: -1,
        reason,
    };
    let header_version = if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    };
    let header = ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| malformed(format!("header: {e:#}")))?;
    let body = R::decode(&mut frame, version).map_err(|e| malformed(format!("{e:#}")))?;
    Ok((header.correlation_id, body))
}
