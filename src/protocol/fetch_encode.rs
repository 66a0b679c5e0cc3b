//! Fetch responses encoded as a list of segments, so that record bytes reach the socket without
//! being copied.
//!
//! Why: the crate's `FetchResponse` encoder copies every partition's `records` into its output
//! buffer, a whole extra pass over every consumed byte. Here the records of each partition stay
//! the very `Bytes` the log returned (a refcount bump), and only the fields around them are encoded
//! into small chunks.
//!
//! Contract: `encode_fetch_response_frame(c, v, r)`, concatenated, is byte for byte what
//! `codec::encode_response(c, v, &Response::Fetch(r))` produces (length prefix, response header v0,
//! or v1 from v12, body) for every version 4..=18, and it fails where that fails, with
//! `ProtocolError::Encode` (a version outside 4..=18, a session id below v7, a preferred read replica
//! below v11, over-long strings or arrays). It mirrors kafka-protocol 0.18's generated encoder (Kafka
//! 4.1.0's schema): the same fields per version, compact types and tagged fields from v12, fields
//! the version cannot carry and that the crate drops silently (top-level error code below v7, topic
//! name from v13, topic id below v13, tagged fields below v12, node endpoints below v16) dropped
//! silently too, and tagged fields in the crate's order and count (known tags first, then unknown
//! ones from the first free tag on; the count includes every unknown field, as the crate's does).
//! Structs without records in them (aborted transactions, diverging epoch, current leader, snapshot
//! id, node endpoints) are encoded by the crate itself. The property test below holds this against
//! the crate; re-run it on every kafka-protocol upgrade. One deliberate difference: a frame longer
//! than `i32::MAX` is an error here (the crate's framing would wrap the length).
//!
//! Every non-empty `records` is a segment of its own; empty or absent records add none. Segments
//! are never empty.
//! Must not import: tokio, server, log, group, txn, replication, controller.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;

use super::{ApiKey, ProtocolError};

const VERSION_MIN: i16 = 4;
const VERSION_MAX: i16 = 18;
const LOG_START_OFFSET_VERSION_MIN: i16 = 5;
const SESSION_VERSION_MIN: i16 = 7;
const PREFERRED_READ_REPLICA_VERSION_MIN: i16 = 11;
/// Compact strings, arrays and bytes, tagged fields, response header v1.
const FLEXIBLE_VERSION_MIN: i16 = 12;
/// Topic names are written up to v12; topic ids from v13.
const TOPIC_ID_VERSION_MIN: i16 = 13;
const NODE_ENDPOINTS_VERSION_MIN: i16 = 16;
/// Room for the prefix, the header and a few partitions' fields before the buffer grows.
const CHUNK_BYTES_INITIAL: usize = 512;

const FIELD_NOT_AVAILABLE: &str =
    "A field is set that is not available on the selected protocol version";

type Encoded<T = ()> = Result<T, String>;

/// Encodes a whole Fetch response frame (length prefix, header, body) as segments whose
/// concatenation is the frame; each non-empty `records` is shared, not copied.
pub fn encode_fetch_response_frame(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
) -> Result<Vec<Bytes>, ProtocolError> {
    let encode_err = |reason: String| ProtocolError::Encode {
        api_key: ApiKey::Fetch,
        version,
        reason,
    };
    let mut frame = Segments::new();
    frame.buf.put_i32(0); // the length, filled in by `finish`
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(
            &mut frame.buf,
            ApiKey::Fetch.response_header_version(version),
        )
        .map_err(|e| encode_err(format!("{e:#}")))?;
    encode_body(&mut frame, version, response).map_err(encode_err)?;
    frame.finish().map_err(encode_err)
}

/// The frame so far: finished segments, and the chunk being encoded.
struct Segments {
    /// The first chunk, which holds the length prefix; kept mutable until `finish` writes it.
    head: Option<BytesMut>,
    done: Vec<Bytes>,
    buf: BytesMut,
}

impl Segments {
    fn new() -> Self {
        Segments {
            head: None,
            done: Vec::new(),
            buf: BytesMut::with_capacity(CHUNK_BYTES_INITIAL),
        }
    }

    /// Ends the current chunk and appends `records` itself as the next segment.
    fn put_shared(&mut self, records: &Bytes) {
        if records.is_empty() {
            return;
        }
        self.end_chunk();
        self.done.push(records.clone());
    }

    fn end_chunk(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // `split` keeps the rest of the allocation for the next chunk.
        let chunk = self.buf.split();
        if self.head.is_none() {
            self.head = Some(chunk);
        } else {
            self.done.push(chunk.freeze());
        }
    }

    fn finish(mut self) -> Encoded<Vec<Bytes>> {
        self.end_chunk();
        let Some(mut head) = self.head else {
            return Err("empty frame".into());
        };
        let total: usize = head.len() + self.done.iter().map(Bytes::len).sum::<usize>();
        let body_len = total
            .checked_sub(4)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("response frame of {total} bytes is too long to encode"))?;
        let Some(prefix) = head.get_mut(0..4) else {
            return Err("frame head shorter than its length prefix".into());
        };
        prefix.copy_from_slice(&body_len.to_be_bytes());
        let mut segments = Vec::with_capacity(self.done.len() + 1);
        segments.push(head.freeze());
        segments.extend(self.done);
        Ok(segments)
    }
}

fn encode_body(frame: &mut Segments, version: i16, r: &FetchResponse) -> Encoded {
    if !(VERSION_MIN..=VERSION_MAX).contains(&version) {
        return Err("specified version not supported by this message type".into());
    }
    let flexible = version >= FLEXIBLE_VERSION_MIN;
    let buf = &mut frame.buf;
    buf.put_i32(r.throttle_time_ms);
    if version >= SESSION_VERSION_MIN {
        buf.put_i16(r.error_code);
        buf.put_i32(r.session_id);
    } else if r.session_id != 0 {
        return Err(FIELD_NOT_AVAILABLE.into());
    }
    put_len(buf, flexible, Some(r.responses.len()), "Array")?;
    for topic in &r.responses {
        encode_topic(frame, version, topic)?;
    }
    if flexible {
        let buf = &mut frame.buf;
        let node_endpoints = version >= NODE_ENDPOINTS_VERSION_MIN && !r.node_endpoints.is_empty();
        put_tag_count(
            buf,
            r.unknown_tagged_fields.len() + usize::from(node_endpoints),
        )?;
        if node_endpoints {
            // Tag 0: a compact array of structs, preceded by its size.
            let mut size = uvarint_len(compact_len(r.node_endpoints.len(), "CompactArray")?);
            for e in &r.node_endpoints {
                size += e.compute_size(version).map_err(|e| format!("{e:#}"))?;
            }
            put_tag_header(buf, 0, size)?;
            put_len(buf, true, Some(r.node_endpoints.len()), "CompactArray")?;
            for e in &r.node_endpoints {
                e.encode(buf, version).map_err(|e| format!("{e:#}"))?;
            }
        }
        put_unknown_tagged_fields(buf, &r.unknown_tagged_fields, 1)?;
    }
    Ok(())
}

fn encode_topic(frame: &mut Segments, version: i16, t: &FetchableTopicResponse) -> Encoded {
    let flexible = version >= FLEXIBLE_VERSION_MIN;
    let buf = &mut frame.buf;
    if version < TOPIC_ID_VERSION_MIN {
        put_string(buf, flexible, t.topic.0.as_str())?;
    } else {
        buf.put_slice(t.topic_id.as_bytes());
    }
    put_len(buf, flexible, Some(t.partitions.len()), "Array")?;
    for p in &t.partitions {
        encode_partition(frame, version, p)?;
    }
    if flexible {
        let buf = &mut frame.buf;
        put_tag_count(buf, t.unknown_tagged_fields.len())?;
        put_unknown_tagged_fields(buf, &t.unknown_tagged_fields, 0)?;
    }
    Ok(())
}

fn encode_partition(frame: &mut Segments, version: i16, p: &PartitionData) -> Encoded {
    let flexible = version >= FLEXIBLE_VERSION_MIN;
    let buf = &mut frame.buf;
    buf.put_i32(p.partition_index);
    buf.put_i16(p.error_code);
    buf.put_i64(p.high_watermark);
    buf.put_i64(p.last_stable_offset);
    if version >= LOG_START_OFFSET_VERSION_MIN {
        buf.put_i64(p.log_start_offset);
    }
    put_len(
        buf,
        flexible,
        p.aborted_transactions.as_ref().map(Vec::len),
        "Array",
    )?;
    for a in p.aborted_transactions.iter().flatten() {
        a.encode(buf, version).map_err(|e| format!("{e:#}"))?;
    }
    if version >= PREFERRED_READ_REPLICA_VERSION_MIN {
        buf.put_i32(p.preferred_read_replica.0);
    } else if p.preferred_read_replica.0 != -1 {
        return Err(FIELD_NOT_AVAILABLE.into());
    }
    put_len(buf, flexible, p.records.as_ref().map(Bytes::len), "Bytes")?;
    if let Some(records) = &p.records {
        frame.put_shared(records);
    }
    if flexible {
        let buf = &mut frame.buf;
        let diverging_epoch = p.diverging_epoch != Default::default();
        let current_leader = p.current_leader != Default::default();
        let snapshot_id = p.snapshot_id != Default::default();
        put_tag_count(
            buf,
            p.unknown_tagged_fields.len()
                + usize::from(diverging_epoch)
                + usize::from(current_leader)
                + usize::from(snapshot_id),
        )?;
        if diverging_epoch {
            put_tagged_struct(buf, 0, &p.diverging_epoch, version)?;
        }
        if current_leader {
            put_tagged_struct(buf, 1, &p.current_leader, version)?;
        }
        if snapshot_id {
            put_tagged_struct(buf, 2, &p.snapshot_id, version)?;
        }
        put_unknown_tagged_fields(buf, &p.unknown_tagged_fields, 3)?;
    }
    Ok(())
}

fn put_uvarint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn uvarint_len(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// A compact length: `len + 1`, as long as that fits in a u32.
fn compact_len(len: usize, what: &str) -> Encoded<u32> {
    u32::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| format!("{what} is too long to encode ({len})"))
}

/// The length of a nullable array or byte string: i32 (-1 for null), or from v12 an unsigned
/// varint of `len + 1` (0 for null).
fn put_len(buf: &mut BytesMut, flexible: bool, len: Option<usize>, what: &str) -> Encoded {
    match (flexible, len) {
        (false, None) => buf.put_i32(-1),
        (false, Some(n)) => {
            let n = i32::try_from(n).map_err(|_| format!("{what} is too long to encode ({n})"))?;
            buf.put_i32(n);
        }
        (true, None) => put_uvarint(buf, 0),
        (true, Some(n)) => put_uvarint(buf, compact_len(n, what)?),
    }
    Ok(())
}

fn put_string(buf: &mut BytesMut, flexible: bool, s: &str) -> Encoded {
    if flexible {
        put_uvarint(buf, compact_len(s.len(), "CompactString")?);
    } else {
        let n = i16::try_from(s.len())
            .map_err(|_| format!("String is too long to encode ({} bytes)", s.len()))?;
        buf.put_i16(n);
    }
    buf.put_slice(s.as_bytes());
    Ok(())
}

fn put_tag_count(buf: &mut BytesMut, count: usize) -> Encoded {
    let count = u32::try_from(count)
        .map_err(|_| format!("Too many tagged fields to encode ({count} fields)"))?;
    put_uvarint(buf, count);
    Ok(())
}

fn put_tag_header(buf: &mut BytesMut, tag: u32, size: usize) -> Encoded {
    let size = u32::try_from(size)
        .map_err(|_| format!("Tagged field is too large to encode ({size} bytes)"))?;
    put_uvarint(buf, tag);
    put_uvarint(buf, size);
    Ok(())
}

fn put_tagged_struct<T: Encodable>(
    buf: &mut BytesMut,
    tag: u32,
    value: &T,
    version: i16,
) -> Encoded {
    let size = value.compute_size(version).map_err(|e| format!("{e:#}"))?;
    put_tag_header(buf, tag, size)?;
    value.encode(buf, version).map_err(|e| format!("{e:#}"))
}

/// Unknown tagged fields from `first_tag` on, in tag order (the crate writes none below it).
fn put_unknown_tagged_fields(
    buf: &mut BytesMut,
    fields: &BTreeMap<i32, Bytes>,
    first_tag: i32,
) -> Encoded {
    for (&tag, value) in fields.range(first_tag..) {
        put_tag_header(buf, tag as u32, value.len())?;
        buf.put_slice(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec::{Response, encode_response};
    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, EpochEndOffset, LeaderIdAndEpoch, NodeEndpoint, SnapshotId,
    };
    use kafka_protocol::messages::{BrokerId, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use uuid::Uuid;

    /// xorshift64*: deterministic, seeded per case so a failure names its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn chance(&mut self, one_in: u64) -> bool {
            self.below(one_in) == 0
        }
        fn i32(&mut self) -> i32 {
            self.next() as i32
        }
        fn i64(&mut self) -> i64 {
            self.next() as i64
        }
        fn bytes(&mut self, len: usize) -> Bytes {
            Bytes::from((0..len).map(|_| self.next() as u8).collect::<Vec<u8>>())
        }
        fn string(&mut self, len_max: u64) -> StrBytes {
            let len = self.below(len_max + 1);
            StrBytes::from_string(
                (0..len)
                    .map(|_| (b'a' + self.below(26) as u8) as char)
                    .collect(),
            )
        }
        /// Unknown tagged fields with tags in `tags`; sometimes none.
        fn tagged(&mut self, tags: std::ops::Range<i32>) -> BTreeMap<i32, Bytes> {
            let mut fields = BTreeMap::new();
            if self.chance(3) {
                for _ in 0..1 + self.below(3) {
                    let tag = tags.start + self.below((tags.end - tags.start) as u64) as i32;
                    let len = self.below(5) as usize;
                    fields.insert(tag, self.bytes(len));
                }
            }
            fields
        }
    }

    /// A random response. With `strict`, only fields the version can carry are set (tagged fields
    /// only where flexible, unknown tags only in the free range); otherwise anything goes, and the
    /// two encoders must agree on what they drop and what they refuse.
    fn response(rng: &mut Rng, version: i16, strict: bool) -> FetchResponse {
        let flexible = version >= FLEXIBLE_VERSION_MIN || !strict;
        let mut r = FetchResponse::default();
        r.throttle_time_ms = rng.below(3) as i32;
        r.error_code = if rng.chance(4) {
            rng.below(120) as i16
        } else {
            0
        };
        if (version >= SESSION_VERSION_MIN || !strict && rng.chance(8)) && rng.chance(2) {
            r.session_id = rng.i32();
        }
        for _ in 0..rng.below(4) {
            let mut t = FetchableTopicResponse::default();
            t.topic = TopicName(rng.string(20));
            t.topic_id = Uuid::from_u64_pair(rng.next(), rng.next());
            for _ in 0..rng.below(5) {
                t.partitions.push(partition(rng, version, strict, flexible));
            }
            if flexible {
                t.unknown_tagged_fields = rng.tagged(if strict { 0..6 } else { -2..6 });
            }
            r.responses.push(t);
        }
        if (version >= NODE_ENDPOINTS_VERSION_MIN || !strict) && rng.chance(3) {
            for _ in 0..1 + rng.below(3) {
                let mut e = NodeEndpoint::default();
                e.node_id = BrokerId(rng.below(10) as i32);
                e.host = rng.string(30);
                e.port = rng.below(65536) as i32;
                e.rack = if rng.chance(2) {
                    Some(rng.string(8))
                } else {
                    None
                };
                e.unknown_tagged_fields = rng.tagged(0..4);
                r.node_endpoints.push(e);
            }
        }
        if flexible {
            r.unknown_tagged_fields = rng.tagged(if strict { 1..6 } else { 0..6 });
        }
        r
    }

    fn partition(rng: &mut Rng, version: i16, strict: bool, flexible: bool) -> PartitionData {
        let mut p = PartitionData::default();
        p.partition_index = rng.below(1000) as i32;
        p.error_code = if rng.chance(4) {
            rng.below(120) as i16
        } else {
            0
        };
        p.high_watermark = rng.i64();
        p.last_stable_offset = rng.i64();
        p.log_start_offset = if rng.chance(2) { -1 } else { rng.i64() };
        p.aborted_transactions = match rng.below(3) {
            0 => None,
            1 => Some(Vec::new()),
            _ => Some(
                (0..1 + rng.below(3))
                    .map(|_| {
                        let mut a = AbortedTransaction::default();
                        a.producer_id = ProducerId(rng.i64());
                        a.first_offset = rng.i64();
                        if flexible {
                            a.unknown_tagged_fields = rng.tagged(0..3);
                        }
                        a
                    })
                    .collect(),
            ),
        };
        if (version >= PREFERRED_READ_REPLICA_VERSION_MIN || !strict && rng.chance(8))
            && rng.chance(3)
        {
            p.preferred_read_replica = BrokerId(rng.below(5) as i32);
        }
        p.records = match rng.below(6) {
            0 => None,
            1 => Some(Bytes::new()),
            _ => {
                let len = rng.below(2000) as usize;
                Some(rng.bytes(len))
            }
        };
        if flexible {
            if rng.chance(3) {
                let mut d = EpochEndOffset::default();
                d.epoch = rng.below(50) as i32;
                d.end_offset = rng.i64();
                d.unknown_tagged_fields = rng.tagged(0..3);
                p.diverging_epoch = d;
            }
            if rng.chance(3) {
                let mut l = LeaderIdAndEpoch::default();
                l.leader_id = BrokerId(rng.below(5) as i32);
                l.leader_epoch = rng.below(50) as i32;
                p.current_leader = l;
            }
            if rng.chance(3) {
                let mut s = SnapshotId::default();
                s.end_offset = rng.i64();
                s.epoch = rng.below(50) as i32;
                p.snapshot_id = s;
            }
            p.unknown_tagged_fields = rng.tagged(if strict { 3..8 } else { -1..8 });
        }
        p
    }

    fn shared_records(r: &FetchResponse) -> Vec<Bytes> {
        r.responses
            .iter()
            .flat_map(|t| &t.partitions)
            .filter_map(|p| p.records.clone())
            .filter(|b| !b.is_empty())
            .collect()
    }

    fn check(seed: u64, version: i16, r: &FetchResponse) -> bool {
        let correlation_id = seed as i32;
        let want = encode_response(correlation_id, version, &Response::Fetch(r.clone()));
        let got = encode_fetch_response_frame(correlation_id, version, r);
        match (want, got) {
            (Ok(want), Ok(segments)) => {
                assert!(
                    segments.iter().all(|s| !s.is_empty()),
                    "seed {seed} v{version}: empty segment"
                );
                assert_eq!(
                    segments.concat(),
                    &want[..],
                    "seed {seed} v{version}: frames differ"
                );
                // Every non-empty records is a segment of its own, in order, sharing the memory.
                let shared = shared_records(r);
                let mut found = segments
                    .iter()
                    .filter(|s| shared.iter().any(|b| b.as_ptr() == s.as_ptr()));
                for b in &shared {
                    let s = found.next();
                    assert!(
                        s.is_some_and(|s| s.as_ptr() == b.as_ptr() && s.len() == b.len()),
                        "seed {seed} v{version}: records were copied"
                    );
                }
                assert!(segments.len() <= 2 * shared.len() + 1);
                true
            }
            (Err(_), Err(ProtocolError::Encode { .. })) => false,
            (want, got) => panic!(
                "seed {seed} v{version}: crate says {:?}, segments say {:?}",
                want.map(|b| b.len()),
                got.map(|s| s.len())
            ),
        }
    }

    #[test]
    fn segments_equal_the_crate_encoding_for_every_version() {
        let (mut ok, mut refused) = (0, 0);
        for seed in 1..=400u64 {
            for version in VERSION_MIN..=VERSION_MAX {
                let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ version as u64);
                let strict = seed % 5 != 0;
                let r = response(&mut rng, version, strict);
                if check(seed, version, &r) {
                    ok += 1;
                } else {
                    assert!(
                        !strict,
                        "seed {seed} v{version}: a valid response was refused"
                    );
                    refused += 1;
                }
            }
        }
        // The lenient cases must exercise both refusals and silent drops.
        assert!(refused > 0 && ok > 5000, "ok {ok}, refused {refused}");
    }

    #[test]
    fn versions_outside_the_schema_are_refused_as_the_crate_does() {
        let r = FetchResponse::default();
        for version in [-1, 0, 3, 19] {
            assert!(!check(1, version, &r));
        }
    }

    #[test]
    fn session_id_below_v7_and_preferred_replica_below_v11_are_refused() {
        let mut r = FetchResponse::default();
        r.session_id = 5;
        assert!(!check(2, 6, &r));
        assert!(check(2, 7, &r));
        let mut p = PartitionData::default();
        p.preferred_read_replica = BrokerId(1);
        let mut t = FetchableTopicResponse::default();
        t.partitions.push(p);
        let mut r = FetchResponse::default();
        r.responses.push(t);
        assert!(!check(3, 10, &r));
        assert!(check(3, 11, &r));
    }

    #[test]
    fn large_records_are_one_shared_segment_each() {
        let records = Bytes::from(vec![7u8; 1 << 20]);
        let mut t = FetchableTopicResponse::default();
        t.topic_id = Uuid::from_u64_pair(1, 2);
        for i in 0..8 {
            let mut p = PartitionData::default();
            p.partition_index = i;
            p.records = Some(records.clone());
            t.partitions.push(p);
        }
        let mut r = FetchResponse::default();
        r.responses.push(t);
        let segments = encode_fetch_response_frame(9, 18, &r).unwrap_or_default();
        assert_eq!(segments.len(), 17);
        for s in segments.iter().skip(1).step_by(2) {
            assert_eq!(s.as_ptr(), records.as_ptr());
        }
        assert!(check(9, 18, &r));
    }
}
