//! Records of the internal topic `__consumer_offsets`, in Kafka's own formats so Kafka's tools
//! can read them: every key and value starts with an i16 version that names the record type.
//!
//! | key version | record | value |
//! |---|---|---|
//! | 0, 1 | OffsetCommitKey (group, topic, partition) | OffsetCommitValue v3: offset, leader epoch, metadata, commit timestamp |
//! | 2 | GroupMetadataKey (group) | GroupMetadataValue v3: classic group and its members |
//! | 3 | ConsumerGroupMetadataKey (group) | ConsumerGroupMetadataValue v0: group epoch |
//!
//! A null value is a tombstone (the offset or group was deleted). Decoding never panics: a record
//! that does not parse is an error the loader logs and skips.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::classic::{GroupSnapshot, MemberSnapshot};

pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;
pub const CONSUMER_GROUP_METADATA_KEY_VERSION: i16 = 3;

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

/// One decoded record of the offsets topic.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetValue>,
    },
    ClassicGroup {
        group: String,
        value: Option<GroupSnapshot>,
    },
    ConsumerGroup {
        group: String,
        epoch: Option<i32>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("undecodable __consumer_offsets record: {0}")]
pub struct RecordError(pub String);

fn put_str(b: &mut BytesMut, s: &str) {
    let bytes = s.as_bytes();
    let len = bytes.len().min(i16::MAX as usize);
    b.put_i16(len as i16);
    b.put_slice(&bytes[..len]);
}

fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut BytesMut, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

fn err(what: &str) -> RecordError {
    RecordError(what.to_string())
}

fn get_i16(b: &mut Bytes) -> Result<i16, RecordError> {
    if b.remaining() < 2 {
        Err(err("truncated i16"))
    } else {
        Ok(b.get_i16())
    }
}
fn get_i32(b: &mut Bytes) -> Result<i32, RecordError> {
    if b.remaining() < 4 {
        Err(err("truncated i32"))
    } else {
        Ok(b.get_i32())
    }
}
fn get_i64(b: &mut Bytes) -> Result<i64, RecordError> {
    if b.remaining() < 8 {
        Err(err("truncated i64"))
    } else {
        Ok(b.get_i64())
    }
}
fn get_nullable_str(b: &mut Bytes) -> Result<Option<String>, RecordError> {
    let len = get_i16(b)?;
    if len < 0 {
        return Ok(None);
    }
    if b.remaining() < len as usize {
        return Err(err("truncated string"));
    }
    let raw = b.split_to(len as usize);
    String::from_utf8(raw.to_vec())
        .map(Some)
        .map_err(|_| err("string is not UTF-8"))
}
fn get_str(b: &mut Bytes) -> Result<String, RecordError> {
    get_nullable_str(b)?.ok_or_else(|| err("null string"))
}
fn get_bytes(b: &mut Bytes) -> Result<Bytes, RecordError> {
    let len = get_i32(b)?;
    if len < 0 {
        return Ok(Bytes::new());
    }
    if b.remaining() < len as usize {
        return Err(err("truncated bytes"));
    }
    Ok(b.split_to(len as usize))
}

pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(OFFSET_COMMIT_KEY_VERSION);
    put_str(&mut b, group);
    put_str(&mut b, topic);
    b.put_i32(partition);
    b.freeze()
}

pub fn offset_value(v: &OffsetValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(OFFSET_COMMIT_VALUE_VERSION);
    b.put_i64(v.offset);
    b.put_i32(v.leader_epoch);
    put_str(&mut b, &v.metadata);
    b.put_i64(v.commit_timestamp_ms);
    b.freeze()
}

pub fn group_key(group: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(GROUP_METADATA_KEY_VERSION);
    put_str(&mut b, group);
    b.freeze()
}

pub fn group_value(g: &GroupSnapshot) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(GROUP_METADATA_VALUE_VERSION);
    put_str(&mut b, g.protocol_type.as_deref().unwrap_or(""));
    b.put_i32(g.generation_id);
    put_nullable_str(&mut b, g.protocol_name.as_deref());
    put_nullable_str(&mut b, g.leader_id.as_deref());
    b.put_i64(g.state_timestamp_ms);
    b.put_i32(g.members.len() as i32);
    for m in &g.members {
        put_str(&mut b, &m.member_id);
        put_nullable_str(&mut b, m.group_instance_id.as_deref());
        put_str(&mut b, &m.client_id);
        put_str(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout_ms);
        b.put_i32(m.session_timeout_ms);
        put_bytes(&mut b, &m.subscription);
        put_bytes(&mut b, &m.assignment);
    }
    b.freeze()
}

pub fn consumer_group_key(group: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(CONSUMER_GROUP_METADATA_KEY_VERSION);
    put_str(&mut b, group);
    b.freeze()
}

pub fn consumer_group_value(epoch: i32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(epoch);
    b.put_u8(0); // no tagged fields
    b.freeze()
}

/// Decodes one record; `Ok(None)` for record types this broker does not keep.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<Record>, RecordError> {
    let mut k = Bytes::copy_from_slice(key);
    let key_version = get_i16(&mut k)?;
    let mut v = value.map(Bytes::copy_from_slice);
    match key_version {
        0 | 1 => {
            let group = get_str(&mut k)?;
            let topic = get_str(&mut k)?;
            let partition = get_i32(&mut k)?;
            let value = match v.as_mut() {
                None => None,
                Some(v) => Some(decode_offset_value(v)?),
            };
            Ok(Some(Record::Offset {
                group,
                topic,
                partition,
                value,
            }))
        }
        2 => {
            let group = get_str(&mut k)?;
            let value = match v.as_mut() {
                None => None,
                Some(v) => Some(decode_group_value(&group, v)?),
            };
            Ok(Some(Record::ClassicGroup { group, value }))
        }
        3 => {
            let group = get_str(&mut k)?;
            let epoch = match v.as_mut() {
                None => None,
                Some(v) => {
                    let _version = get_i16(v)?;
                    Some(get_i32(v)?)
                }
            };
            Ok(Some(Record::ConsumerGroup { group, epoch }))
        }
        _ => Ok(None),
    }
}

fn decode_offset_value(v: &mut Bytes) -> Result<OffsetValue, RecordError> {
    let version = get_i16(v)?;
    let offset = get_i64(v)?;
    let leader_epoch = if version >= 3 { get_i32(v)? } else { -1 };
    let metadata = get_str(v)?;
    let commit_timestamp_ms = get_i64(v)?;
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
    })
}

fn decode_group_value(group: &str, v: &mut Bytes) -> Result<GroupSnapshot, RecordError> {
    let version = get_i16(v)?;
    let protocol_type = get_str(v)?;
    let generation_id = get_i32(v)?;
    let protocol_name = get_nullable_str(v)?;
    let leader_id = get_nullable_str(v)?;
    let state_timestamp_ms = if version >= 2 { get_i64(v)? } else { -1 };
    let count = get_i32(v)?.max(0) as usize;
    let mut members = Vec::with_capacity(count.min(v.remaining()));
    for _ in 0..count {
        let member_id = get_str(v)?;
        let group_instance_id = if version >= 3 {
            get_nullable_str(v)?
        } else {
            None
        };
        let client_id = get_str(v)?;
        let client_host = get_str(v)?;
        let rebalance_timeout_ms = if version >= 1 { get_i32(v)? } else { -1 };
        let session_timeout_ms = get_i32(v)?;
        let subscription = get_bytes(v)?;
        let assignment = get_bytes(v)?;
        members.push(MemberSnapshot {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Ok(GroupSnapshot {
        group_id: group.to_string(),
        protocol_type: (!protocol_type.is_empty()).then_some(protocol_type),
        generation_id,
        protocol_name,
        leader_id,
        state_timestamp_ms,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_an_error() {
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "m".into(),
            commit_timestamp_ms: 7,
        };
        let key = offset_key("g", "t", 5);
        assert_eq!(
            decode(&key, Some(&offset_value(&v))).unwrap(),
            Some(Record::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 5,
                value: Some(v)
            })
        );
        assert_eq!(
            decode(&key, None).unwrap(),
            Some(Record::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 5,
                value: None
            })
        );
        let snap = GroupSnapshot {
            group_id: "g".into(),
            protocol_type: Some("consumer".into()),
            generation_id: 4,
            protocol_name: Some("range".into()),
            leader_id: Some("m1".into()),
            state_timestamp_ms: 9,
            members: vec![MemberSnapshot {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300,
                session_timeout_ms: 45,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(
            decode(&group_key("g"), Some(&group_value(&snap))).unwrap(),
            Some(Record::ClassicGroup {
                group: "g".into(),
                value: Some(snap)
            })
        );
        assert_eq!(
            decode(&consumer_group_key("g"), Some(&consumer_group_value(11))).unwrap(),
            Some(Record::ConsumerGroup {
                group: "g".into(),
                epoch: Some(11)
            })
        );
        for n in 0..key.len() {
            assert!(
                decode(&key[..n], None).is_err(),
                "a key cut at {n} bytes is an error"
            );
        }
        assert!(decode(&key, Some(&[0, 3, 1])).is_err());
        assert_eq!(decode(&[0, 99], None).unwrap(), None);
    }
}
