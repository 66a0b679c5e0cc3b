//! Request versions that Kafka 4.0 removed (KIP-896) and Gregor still serves, decoded and encoded
//! by hand because the vendored kafka-protocol crate (Kafka 4.1's schemas) has no schema for them.
//!
//! Contract: `SERVED` lists the (api, versions) handled here; for those the codec calls
//! `decode_request` instead of the crate's decoder and `encode_response` instead of the crate's
//! encoder. A decoded request is the crate's own request struct, filled with what the old version
//! carries and the defaults Kafka gives the fields it lacks, so handlers see one type per API and
//! branch on the version only where the old semantics differ. Responses are written field by
//! field from Kafka 3.9's JSON schemas (all these versions are non-flexible: int16/int32/int64 big
//! endian, STRING = int16 length + UTF-8, NULLABLE_STRING with length -1 for null, ARRAY = int32
//! count, BOOLEAN = one byte). What an old version cannot express is derived from the new fields:
//! DescribeConfigs v0's `is_default` is `config_source == DEFAULT_CONFIG`; ListOffsets v0's
//! `old_style_offsets` is `[offset]` (or empty when there is none), so `max_num_offsets` is read
//! and not used: Gregor answers at most one offset, which is what Kafka answers for a partition
//! with one segment or a client asking for one (Sarama, kafka-python and librdkafka all ask for 1).
//!
//! Not here: Produce v0-2 and Fetch v0-3 carry message formats v0/v1, which Gregor does not
//! convert; Produce v0-2 stays advertised and refused (`codec::LegacyProduce`, decoded here only
//! because it shares the reader), Fetch v0-3 stays unadvertised.
//!
//! Decoding never panics and never allocates from a count on the wire: every read is checked,
//! every array count is bounded by the bytes left divided by the smallest element, and every
//! failure is a `LegacyError`. Must not import: tokio, server, log, group, txn, replication,
//! controller.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::codec::{LegacyProduce, Request, Response};
use super::{ApiKey, VersionRange};

/// The removed versions Gregor serves, per API. `gregor.legacy.api.versions.enable=false` takes
/// exactly these out of the version table.
pub const SERVED: &[(ApiKey, VersionRange)] = &[
    (ApiKey::ListOffsets, VersionRange::new(0, 0)),
    (ApiKey::OffsetCommit, VersionRange::new(0, 1)),
    (ApiKey::OffsetFetch, VersionRange::new(0, 0)),
    (ApiKey::CreateTopics, VersionRange::new(0, 1)),
    (ApiKey::DeleteTopics, VersionRange::new(0, 0)),
    (ApiKey::DescribeConfigs, VersionRange::new(0, 0)),
];

/// Kafka's ConfigSource DEFAULT_CONFIG: the only source DescribeConfigs v0 reports as default.
const CONFIG_SOURCE_DEFAULT: i8 = 5;

/// Whether (api, version) is decoded and encoded here rather than by the crate.
pub fn serves(api_key: ApiKey, version: i16) -> bool {
    SERVED
        .iter()
        .any(|(k, r)| *k == api_key && r.contains(version))
}

#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error("truncated at {field}")]
    Truncated { field: &'static str },
    #[error("{field}: length {len} is negative or exceeds the {left_bytes} bytes left")]
    BadLength {
        field: &'static str,
        len: i64,
        left_bytes: usize,
    },
    #[error("{field} is not UTF-8")]
    NotUtf8 { field: &'static str },
    #[error("{field}: null is not allowed at this version")]
    UnexpectedNull { field: &'static str },
    #[error("{api_key:?} v{version} is not a removed version handled here")]
    NotLegacy { api_key: ApiKey, version: i16 },
    #[error("{field}: {len} does not fit the old encoding")]
    TooLong { field: &'static str, len: usize },
}

type Result<T> = std::result::Result<T, LegacyError>;

/// Checked big-endian reads over a request body.
struct Reader<'a> {
    buf: &'a mut Bytes,
}

impl Reader<'_> {
    fn need(&self, bytes: usize, field: &'static str) -> Result<()> {
        if self.buf.remaining() < bytes {
            return Err(LegacyError::Truncated { field });
        }
        Ok(())
    }

    fn i8(&mut self, field: &'static str) -> Result<i8> {
        self.need(1, field)?;
        Ok(self.buf.get_i8())
    }

    fn bool(&mut self, field: &'static str) -> Result<bool> {
        Ok(self.i8(field)? != 0)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16> {
        self.need(2, field)?;
        Ok(self.buf.get_i16())
    }

    fn i32(&mut self, field: &'static str) -> Result<i32> {
        self.need(4, field)?;
        Ok(self.buf.get_i32())
    }

    fn i64(&mut self, field: &'static str) -> Result<i64> {
        self.need(8, field)?;
        Ok(self.buf.get_i64())
    }

    /// NULLABLE_STRING: int16 length, -1 for null.
    fn nullable_string(&mut self, field: &'static str) -> Result<Option<StrBytes>> {
        let len = self.i16(field)?;
        if len == -1 {
            return Ok(None);
        }
        let left_bytes = self.buf.remaining();
        let Some(n) = usize::try_from(len).ok().filter(|n| *n <= left_bytes) else {
            return Err(LegacyError::BadLength {
                field,
                len: len.into(),
                left_bytes,
            });
        };
        StrBytes::from_utf8(self.buf.split_to(n))
            .map(Some)
            .map_err(|_| LegacyError::NotUtf8 { field })
    }

    fn string(&mut self, field: &'static str) -> Result<StrBytes> {
        self.nullable_string(field)?
            .ok_or(LegacyError::UnexpectedNull { field })
    }

    /// ARRAY count, -1 for null; a count is accepted only if that many elements of at least
    /// `elem_bytes_min` each fit in what is left.
    fn nullable_array_len(
        &mut self,
        field: &'static str,
        elem_bytes_min: usize,
    ) -> Result<Option<usize>> {
        let n = self.i32(field)?;
        if n == -1 {
            return Ok(None);
        }
        let left_bytes = self.buf.remaining();
        usize::try_from(n)
            .ok()
            .filter(|n| n.saturating_mul(elem_bytes_min.max(1)) <= left_bytes)
            .map(Some)
            .ok_or(LegacyError::BadLength {
                field,
                len: n.into(),
                left_bytes,
            })
    }

    fn array_len(&mut self, field: &'static str, elem_bytes_min: usize) -> Result<usize> {
        self.nullable_array_len(field, elem_bytes_min)?
            .ok_or(LegacyError::UnexpectedNull { field })
    }

    fn skip(&mut self, bytes: usize, field: &'static str) -> Result<()> {
        self.need(bytes, field)?;
        self.buf.advance(bytes);
        Ok(())
    }
}

/// Decodes the body of a request whose (api, version) `serves` accepts.
pub fn decode_request(api_key: ApiKey, version: i16, buf: &mut Bytes) -> Result<Request> {
    let mut r = Reader { buf };
    Ok(match api_key {
        ApiKey::ListOffsets if version == 0 => Request::ListOffsets(list_offsets_v0(&mut r)?),
        ApiKey::OffsetCommit if version <= 1 => {
            Request::OffsetCommit(offset_commit_v0_1(&mut r, version)?)
        }
        ApiKey::OffsetFetch if version == 0 => Request::OffsetFetch(offset_fetch_v0(&mut r)?),
        ApiKey::CreateTopics if version <= 1 => {
            Request::CreateTopics(create_topics_v0_1(&mut r, version)?)
        }
        ApiKey::DeleteTopics if version == 0 => Request::DeleteTopics(delete_topics_v0(&mut r)?),
        ApiKey::DescribeConfigs if version == 0 => {
            Request::DescribeConfigs(describe_configs_v0(&mut r)?)
        }
        _ => return Err(LegacyError::NotLegacy { api_key, version }),
    })
}

/// replica_id, [name, [partition, timestamp, max_num_offsets]].
fn list_offsets_v0(r: &mut Reader) -> Result<ListOffsetsRequest> {
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(r.i32("replica_id")?);
    let topics = r.array_len("topics", 6)?;
    for _ in 0..topics {
        let mut t = list_offsets_request::ListOffsetsTopic::default();
        t.name = TopicName(r.string("topic name")?);
        let partitions = r.array_len("partitions", 16)?;
        for _ in 0..partitions {
            let mut p = list_offsets_request::ListOffsetsPartition::default();
            p.partition_index = r.i32("partition_index")?;
            p.current_leader_epoch = -1;
            p.timestamp = r.i64("timestamp")?;
            let _max_num_offsets = r.i32("max_num_offsets")?;
            t.partitions.push(p);
        }
        req.topics.push(t);
    }
    Ok(req)
}

/// group_id, (v1: generation_id, member_id), [name, [partition, offset, (v1: commit_timestamp),
/// metadata]]. v0 is a simple commit: generation -1 and no member, as Kafka's default.
fn offset_commit_v0_1(r: &mut Reader, version: i16) -> Result<OffsetCommitRequest> {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(r.string("group_id")?);
    req.generation_id_or_member_epoch = -1;
    req.retention_time_ms = -1;
    if version >= 1 {
        req.generation_id_or_member_epoch = r.i32("generation_id")?;
        req.member_id = r.string("member_id")?;
    }
    let topics = r.array_len("topics", 6)?;
    for _ in 0..topics {
        let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
        t.name = TopicName(r.string("topic name")?);
        let partitions = r.array_len("partitions", 14)?;
        for _ in 0..partitions {
            let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
            p.partition_index = r.i32("partition_index")?;
            p.committed_offset = r.i64("committed_offset")?;
            p.committed_leader_epoch = -1;
            if version >= 1 {
                // Kafka 3.9 ignores it too: retention runs from the broker's commit time.
                let _commit_timestamp = r.i64("commit_timestamp")?;
            }
            p.committed_metadata = r.nullable_string("committed_metadata")?;
            t.partitions.push(p);
        }
        req.topics.push(t);
    }
    Ok(req)
}

/// group_id, [name, [partition]] (the topic list is not nullable before v2).
fn offset_fetch_v0(r: &mut Reader) -> Result<OffsetFetchRequest> {
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(r.string("group_id")?);
    let topics = r.array_len("topics", 6)?;
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
        t.name = TopicName(r.string("topic name")?);
        let partitions = r.array_len("partition_indexes", 4)?;
        for _ in 0..partitions {
            t.partition_indexes.push(r.i32("partition_index")?);
        }
        out.push(t);
    }
    req.topics = Some(out);
    Ok(req)
}

/// [name, num_partitions, replication_factor, [partition, [broker]], [config name, value]],
/// timeout_ms, (v1: validate_only).
fn create_topics_v0_1(r: &mut Reader, version: i16) -> Result<CreateTopicsRequest> {
    let mut req = CreateTopicsRequest::default();
    let topics = r.array_len("topics", 16)?;
    for _ in 0..topics {
        let mut t = create_topics_request::CreatableTopic::default();
        t.name = TopicName(r.string("topic name")?);
        t.num_partitions = r.i32("num_partitions")?;
        t.replication_factor = r.i16("replication_factor")?;
        let assignments = r.array_len("assignments", 8)?;
        for _ in 0..assignments {
            let mut a = create_topics_request::CreatableReplicaAssignment::default();
            a.partition_index = r.i32("partition_index")?;
            let brokers = r.array_len("broker_ids", 4)?;
            for _ in 0..brokers {
                a.broker_ids.push(BrokerId(r.i32("broker_id")?));
            }
            t.assignments.push(a);
        }
        let configs = r.array_len("configs", 4)?;
        for _ in 0..configs {
            let mut c = create_topics_request::CreatableTopicConfig::default();
            c.name = r.string("config name")?;
            c.value = r.nullable_string("config value")?;
            t.configs.push(c);
        }
        req.topics.push(t);
    }
    req.timeout_ms = r.i32("timeout_ms")?;
    if version >= 1 {
        req.validate_only = r.bool("validate_only")?;
    }
    Ok(req)
}

/// [name], timeout_ms.
fn delete_topics_v0(r: &mut Reader) -> Result<DeleteTopicsRequest> {
    let mut req = DeleteTopicsRequest::default();
    let topics = r.array_len("topic_names", 2)?;
    for _ in 0..topics {
        req.topic_names.push(TopicName(r.string("topic name")?));
    }
    req.timeout_ms = r.i32("timeout_ms")?;
    Ok(req)
}

/// [resource_type, resource_name, [config name] or null]; no synonyms, no documentation.
fn describe_configs_v0(r: &mut Reader) -> Result<DescribeConfigsRequest> {
    let mut req = DescribeConfigsRequest::default();
    let resources = r.array_len("resources", 7)?;
    for _ in 0..resources {
        let mut res = describe_configs_request::DescribeConfigsResource::default();
        res.resource_type = r.i8("resource_type")?;
        res.resource_name = r.string("resource_name")?;
        res.configuration_keys = match r.nullable_array_len("configuration_keys", 2)? {
            None => None,
            Some(n) => {
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(r.string("configuration key")?);
                }
                Some(keys)
            }
        };
        req.resources.push(res);
    }
    req.include_synonyms = false;
    req.include_documentation = false;
    Ok(req)
}

/// Produce v0-2: acks, timeout, [topic, [partition, records]]; the records are skipped (they are
/// message format v0/v1, refused anyway). A negative array count reads as empty, as before.
pub(super) fn decode_produce_v0_2(buf: &mut Bytes) -> Result<LegacyProduce> {
    let mut r = Reader { buf };
    let acks = r.i16("acks")?;
    let _timeout_ms = r.i32("timeout_ms")?;
    let topic_count = produce_array_len(&mut r, "topics", 6)?;
    let mut topics = Vec::with_capacity(topic_count);
    for _ in 0..topic_count {
        let name = r.string("topic name")?;
        let part_count = produce_array_len(&mut r, "partitions", 8)?;
        let mut parts = Vec::with_capacity(part_count);
        for _ in 0..part_count {
            parts.push(r.i32("partition")?);
            let len = r.i32("records length")?;
            if let Ok(n) = usize::try_from(len) {
                r.skip(n, "records")?;
            }
        }
        topics.push((name, parts));
    }
    Ok(LegacyProduce { acks, topics })
}

fn produce_array_len(r: &mut Reader, field: &'static str, elem_bytes_min: usize) -> Result<usize> {
    let n = r.i32(field)?;
    let left_bytes = r.buf.remaining();
    if n < 0 {
        return Ok(0);
    }
    usize::try_from(n)
        .ok()
        .filter(|n| n.saturating_mul(elem_bytes_min) <= left_bytes)
        .ok_or(LegacyError::BadLength {
            field,
            len: n.into(),
            left_bytes,
        })
}

/// Big-endian writes in the non-flexible encodings.
struct Writer<'a> {
    buf: &'a mut BytesMut,
}

impl Writer<'_> {
    fn string(&mut self, s: &str, field: &'static str) -> Result<()> {
        let len = i16::try_from(s.len()).map_err(|_| LegacyError::TooLong {
            field,
            len: s.len(),
        })?;
        self.buf.put_i16(len);
        self.buf.put_slice(s.as_bytes());
        Ok(())
    }

    fn nullable_string(&mut self, s: Option<&StrBytes>, field: &'static str) -> Result<()> {
        match s {
            Some(s) => self.string(s, field),
            None => {
                self.buf.put_i16(-1);
                Ok(())
            }
        }
    }

    fn array_len(&mut self, len: usize, field: &'static str) -> Result<()> {
        let n = i32::try_from(len).map_err(|_| LegacyError::TooLong { field, len })?;
        self.buf.put_i32(n);
        Ok(())
    }

    fn bool(&mut self, b: bool) {
        self.buf.put_i8(i8::from(b));
    }
}

/// Encodes the body of a response whose (api, version) `serves` accepts.
pub fn encode_response(response: &Response, version: i16, buf: &mut BytesMut) -> Result<()> {
    let mut w = Writer { buf };
    match response {
        Response::ListOffsets(r) if version == 0 => list_offsets_v0_response(&mut w, r),
        Response::OffsetCommit(r) if version <= 1 => offset_commit_v0_1_response(&mut w, r),
        Response::OffsetFetch(r) if version == 0 => offset_fetch_v0_response(&mut w, r),
        Response::CreateTopics(r) if version <= 1 => {
            create_topics_v0_1_response(&mut w, r, version)
        }
        Response::DeleteTopics(r) if version == 0 => delete_topics_v0_response(&mut w, r),
        Response::DescribeConfigs(r) if version == 0 => describe_configs_v0_response(&mut w, r),
        other => Err(LegacyError::NotLegacy {
            api_key: other.api_key(),
            version,
        }),
    }
}

/// [name, [partition]]: the topic array of ListOffsets, OffsetCommit and OffsetFetch responses,
/// with `partition` writing one partition's fields.
fn topic_partitions<'a, P: 'a>(
    w: &mut Writer,
    topics: impl ExactSizeIterator<Item = (&'a str, &'a [P])>,
    mut partition: impl FnMut(&mut Writer, &P) -> Result<()>,
) -> Result<()> {
    w.array_len(topics.len(), "topics")?;
    for (name, partitions) in topics {
        w.string(name, "topic name")?;
        w.array_len(partitions.len(), "partitions")?;
        for p in partitions {
            partition(w, p)?;
        }
    }
    Ok(())
}

/// [name, [partition, error_code, [offset]]]: the one offset, or none where there is none.
fn list_offsets_v0_response(w: &mut Writer, r: &ListOffsetsResponse) -> Result<()> {
    let topics = r.topics.iter();
    topic_partitions(
        w,
        topics.map(|t| (t.name.0.as_str(), t.partitions.as_slice())),
        |w, p| {
            w.buf.put_i32(p.partition_index);
            w.buf.put_i16(p.error_code);
            if p.error_code == 0 && p.offset >= 0 {
                w.buf.put_i32(1);
                w.buf.put_i64(p.offset);
            } else {
                w.buf.put_i32(0);
            }
            Ok(())
        },
    )
}

/// [name, [partition, error_code]] (no throttle time before v3).
fn offset_commit_v0_1_response(w: &mut Writer, r: &OffsetCommitResponse) -> Result<()> {
    let topics = r.topics.iter();
    topic_partitions(
        w,
        topics.map(|t| (t.name.0.as_str(), t.partitions.as_slice())),
        |w, p| {
            w.buf.put_i32(p.partition_index);
            w.buf.put_i16(p.error_code);
            Ok(())
        },
    )
}

/// [name, [partition, offset, metadata, error_code]] (no group-level error before v2: the
/// handler puts it on every partition).
fn offset_fetch_v0_response(w: &mut Writer, r: &OffsetFetchResponse) -> Result<()> {
    let topics = r.topics.iter();
    topic_partitions(
        w,
        topics.map(|t| (t.name.0.as_str(), t.partitions.as_slice())),
        |w, p| {
            w.buf.put_i32(p.partition_index);
            w.buf.put_i64(p.committed_offset);
            w.nullable_string(p.metadata.as_ref(), "metadata")?;
            w.buf.put_i16(p.error_code);
            Ok(())
        },
    )
}

/// [name, error_code, (v1: error_message)] (no throttle time before v2).
fn create_topics_v0_1_response(
    w: &mut Writer,
    r: &CreateTopicsResponse,
    version: i16,
) -> Result<()> {
    w.array_len(r.topics.len(), "topics")?;
    for t in &r.topics {
        w.string(&t.name.0, "topic name")?;
        w.buf.put_i16(t.error_code);
        if version >= 1 {
            w.nullable_string(t.error_message.as_ref(), "error_message")?;
        }
    }
    Ok(())
}

/// [name, error_code] (no throttle time before v1).
fn delete_topics_v0_response(w: &mut Writer, r: &DeleteTopicsResponse) -> Result<()> {
    w.array_len(r.responses.len(), "responses")?;
    for t in &r.responses {
        w.string(t.name.as_ref().map_or("", |n| n.0.as_str()), "topic name")?;
        w.buf.put_i16(t.error_code);
    }
    Ok(())
}

/// throttle_time_ms, [error_code, error_message, resource_type, resource_name,
/// [name, value, read_only, is_default, is_sensitive]].
fn describe_configs_v0_response(w: &mut Writer, r: &DescribeConfigsResponse) -> Result<()> {
    w.buf.put_i32(r.throttle_time_ms);
    w.array_len(r.results.len(), "results")?;
    for res in &r.results {
        w.buf.put_i16(res.error_code);
        w.nullable_string(res.error_message.as_ref(), "error_message")?;
        w.buf.put_i8(res.resource_type);
        w.string(&res.resource_name, "resource_name")?;
        w.array_len(res.configs.len(), "configs")?;
        for c in &res.configs {
            w.string(&c.name, "config name")?;
            w.nullable_string(c.value.as_ref(), "config value")?;
            w.bool(c.read_only);
            w.bool(c.config_source == CONFIG_SOURCE_DEFAULT);
            w.bool(c.is_sensitive);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(api_key: ApiKey, version: i16, body: &[u8]) -> Result<Request> {
        decode_request(api_key, version, &mut Bytes::copy_from_slice(body))
    }

    fn describe_configs_v0_body() -> BytesMut {
        let mut b = BytesMut::new();
        b.put_i32(1);
        b.put_i8(2);
        b.put_i16(1);
        b.put_slice(b"t");
        b.put_i32(1);
        b.put_i16(12);
        b.put_slice(b"retention.ms");
        b
    }

    #[test]
    fn describe_configs_v0_decodes_with_v0_defaults() {
        let Ok(Request::DescribeConfigs(req)) =
            decode(ApiKey::DescribeConfigs, 0, &describe_configs_v0_body())
        else {
            panic!("not decoded");
        };
        assert_eq!(req.resources.len(), 1);
        assert_eq!(req.resources[0].resource_type, 2);
        assert_eq!(req.resources[0].resource_name.as_str(), "t");
        let keys = req.resources[0].configuration_keys.as_ref().unwrap();
        assert_eq!(keys[0].as_str(), "retention.ms");
        assert!(!req.include_synonyms && !req.include_documentation);
    }

    #[test]
    fn every_truncation_of_a_valid_body_is_an_error() {
        let bodies: Vec<(ApiKey, i16, BytesMut)> = vec![
            (ApiKey::DescribeConfigs, 0, describe_configs_v0_body()),
            (ApiKey::ListOffsets, 0, {
                let mut b = BytesMut::new();
                b.put_i32(-1);
                b.put_i32(1);
                b.put_i16(1);
                b.put_slice(b"t");
                b.put_i32(1);
                b.put_i32(0);
                b.put_i64(-1);
                b.put_i32(1);
                b
            }),
            (ApiKey::DeleteTopics, 0, {
                let mut b = BytesMut::new();
                b.put_i32(1);
                b.put_i16(1);
                b.put_slice(b"t");
                b.put_i32(1000);
                b
            }),
        ];
        for (key, version, body) in bodies {
            assert!(decode(key, version, &body).is_ok(), "{key:?} whole body");
            for cut in 0..body.len() {
                assert!(
                    decode(key, version, &body[..cut]).is_err(),
                    "{key:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn huge_and_negative_counts_and_lengths_are_errors() {
        for count in [i32::MAX, 0x0400_0000, -2, i32::MIN] {
            let mut b = BytesMut::new();
            b.put_i32(count);
            b.put_slice(&[0; 32]);
            for (key, version) in SERVED
                .iter()
                .flat_map(|(k, r)| (r.min..=r.max).map(move |v| (*k, v)))
            {
                // Bodies that start with a group id or replica id put the count one field later.
                let _ = decode(key, version, &b);
            }
            assert!(decode(ApiKey::DescribeConfigs, 0, &b).is_err());
            assert!(decode(ApiKey::CreateTopics, 1, &b).is_err());
            assert!(decode(ApiKey::DeleteTopics, 0, &b).is_err());
        }
        let mut b = BytesMut::new();
        b.put_i16(i16::MAX); // group id longer than the body
        b.put_slice(b"g");
        assert!(matches!(
            decode(ApiKey::OffsetFetch, 0, &b),
            Err(LegacyError::BadLength { .. })
        ));
        let mut b = BytesMut::new();
        b.put_i16(-1); // null group id
        assert!(matches!(
            decode(ApiKey::OffsetCommit, 0, &b),
            Err(LegacyError::UnexpectedNull { .. })
        ));
        let mut b = BytesMut::new();
        b.put_i16(2);
        b.put_slice(&[0xff, 0xfe]);
        assert!(matches!(
            decode(ApiKey::OffsetFetch, 0, &b),
            Err(LegacyError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..96usize {
            for seed in 0..8usize {
                let garbage: Vec<u8> = (0..len)
                    .map(|i| (i.wrapping_mul(37 + seed) + 11 * seed) as u8)
                    .collect();
                for (key, r) in SERVED {
                    for version in r.min..=r.max {
                        let _ = decode(*key, version, &garbage);
                    }
                }
                let _ = decode_produce_v0_2(&mut Bytes::from(garbage));
            }
        }
    }

    #[test]
    fn versions_not_handled_here_are_refused() {
        assert!(serves(ApiKey::DescribeConfigs, 0) && !serves(ApiKey::DescribeConfigs, 1));
        assert!(!serves(ApiKey::Produce, 0) && !serves(ApiKey::Fetch, 3));
        assert!(matches!(
            decode(ApiKey::DescribeConfigs, 1, &[]),
            Err(LegacyError::NotLegacy { .. })
        ));
    }

    #[test]
    fn describe_configs_v0_response_reports_is_default_from_the_source() {
        let mut resp = DescribeConfigsResponse::default();
        let mut res = describe_configs_response::DescribeConfigsResult::default();
        res.resource_type = 2;
        res.resource_name = StrBytes::from_static_str("t");
        for (name, source) in [("a", 1i8), ("b", CONFIG_SOURCE_DEFAULT)] {
            let mut c = describe_configs_response::DescribeConfigsResourceResult::default();
            c.name = StrBytes::from_static_str(name);
            c.value = Some(StrBytes::from_static_str("v"));
            c.config_source = source;
            res.configs.push(c);
        }
        resp.results.push(res);
        let mut buf = BytesMut::new();
        encode_response(&Response::DescribeConfigs(resp), 0, &mut buf).unwrap();
        let mut expect = BytesMut::new();
        expect.put_i32(0); // throttle
        expect.put_i32(1);
        expect.put_i16(0);
        expect.put_i16(0); // error_message "", the crate's default as Kafka's
        expect.put_i8(2);
        expect.put_i16(1);
        expect.put_slice(b"t");
        expect.put_i32(2);
        for (name, is_default) in [(b"a", 0u8), (b"b", 1u8)] {
            expect.put_i16(1);
            expect.put_slice(name);
            expect.put_i16(1);
            expect.put_slice(b"v");
            expect.put_slice(&[0, is_default, 0]);
        }
        assert_eq!(buf, expect);
    }
}
