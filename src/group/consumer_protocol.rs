//! Kafka's ConsumerProtocol formats, carried inside JoinGroup metadata and SyncGroup assignments
//! when the protocol type is "consumer" (clients' `ConsumerProtocolSubscription.json` and
//! `ConsumerProtocolAssignment.json`, versions 0-3, not flexible):
//!
//! ```text
//! Subscription: version i16 | topics [string] | user_data nullable bytes
//!               | v1+: owned_partitions [topic string, partitions [i32]]
//!               | v2+: generation_id i32 | v3+: rack_id nullable string
//! Assignment:   version i16 | assigned_partitions [topic string, partitions [i32]]
//!               | user_data nullable bytes
//! ```
//!
//! Purpose: the group coordinator reads them only to convert groups between the classic and the
//! consumer protocol (KIP-848 online migration) and to answer classic members of a consumer group.
//! A version above 3 is read as version 3 (newer versions only append fields), as Kafka does; a
//! negative version or anything truncated is an error. Decoding never panics and never allocates
//! more than the input can hold.
//! Must not import: protocol, server (this is group-internal data, not a wire API).

use bytes::{BufMut, Bytes, BytesMut};

/// The highest version either format has.
pub const VERSION_MAX: i16 = 3;

/// A decoded ConsumerProtocolSubscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub version: i16,
    pub topics: Vec<String>,
    pub user_data: Option<Bytes>,
    /// (topic, partitions) the member owns (v1+; empty before).
    pub owned_partitions: Vec<(String, Vec<i32>)>,
    /// v2+; -1 before.
    pub generation_id: i32,
    /// v3+.
    pub rack_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ConsumerProtocol data: {0}")]
pub struct CodecError(pub &'static str);

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, CodecError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, CodecError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn nullable_string(&mut self) -> Result<Option<String>, CodecError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        std::str::from_utf8(raw)
            .map(|s| Some(s.to_string()))
            .map_err(|_| CodecError("string is not UTF-8"))
    }
    fn string(&mut self) -> Result<String, CodecError> {
        self.nullable_string()?
            .ok_or(CodecError("null where a string is required"))
    }
    fn nullable_bytes(&mut self) -> Result<Option<Bytes>, CodecError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(len as usize)?)))
    }
    /// An array's length, checked against what is left (each element takes `min_bytes` at least).
    fn count(&mut self, min_bytes: usize) -> Result<usize, CodecError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(0);
        }
        let n = n as usize;
        if n.saturating_mul(min_bytes) > self.buf.len() {
            return Err(CodecError("array longer than the data"));
        }
        Ok(n)
    }
    fn topic_partitions(&mut self) -> Result<Vec<(String, Vec<i32>)>, CodecError> {
        let topics = self.count(6)?;
        let mut out = Vec::with_capacity(topics);
        for _ in 0..topics {
            let topic = self.string()?;
            let n = self.count(4)?;
            let mut partitions = Vec::with_capacity(n);
            for _ in 0..n {
                partitions.push(self.i32()?);
            }
            out.push((topic, partitions));
        }
        Ok(out)
    }
}

fn read_version(r: &mut Reader<'_>) -> Result<i16, CodecError> {
    let version = r.i16()?;
    if version < 0 {
        return Err(CodecError("negative version"));
    }
    Ok(version)
}

/// The version a subscription or assignment starts with, clamped to `VERSION_MAX`; 0 when
/// unreadable (Kafka then fails to parse it anyway).
pub fn version_of(data: &[u8]) -> i16 {
    read_version(&mut Reader { buf: data })
        .map(|v| v.min(VERSION_MAX))
        .unwrap_or(0)
}

pub fn decode_subscription(data: &[u8]) -> Result<Subscription, CodecError> {
    let mut r = Reader { buf: data };
    let version = read_version(&mut r)?.min(VERSION_MAX);
    let n = r.count(2)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        topics.push(r.string()?);
    }
    let user_data = r.nullable_bytes()?;
    let owned_partitions = if version >= 1 {
        r.topic_partitions()?
    } else {
        Vec::new()
    };
    let generation_id = if version >= 2 { r.i32()? } else { -1 };
    let rack_id = if version >= 3 {
        r.nullable_string()?
    } else {
        None
    };
    Ok(Subscription {
        version,
        topics,
        user_data,
        owned_partitions,
        generation_id,
        rack_id,
    })
}

/// The assigned partitions of a ConsumerProtocolAssignment (user data is dropped). Empty data is
/// an empty assignment: a classic member that never synced has none.
pub fn decode_assignment(data: &[u8]) -> Result<Vec<(String, Vec<i32>)>, CodecError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader { buf: data };
    read_version(&mut r)?;
    let partitions = r.topic_partitions()?;
    r.nullable_bytes()?;
    Ok(partitions)
}

fn put_str(b: &mut BytesMut, s: &str) {
    let bytes = s.as_bytes();
    let len = bytes.len().min(i16::MAX as usize);
    b.put_i16(len as i16);
    b.put_slice(&bytes[..len]);
}

/// A ConsumerProtocolAssignment of `version` (clamped to 0..=3) without user data.
pub fn encode_assignment(version: i16, partitions: &[(String, Vec<i32>)]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(version.clamp(0, VERSION_MAX));
    b.put_i32(partitions.len() as i32);
    for (topic, ps) in partitions {
        put_str(&mut b, topic);
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(*p);
        }
    }
    b.put_i32(-1); // null user data
    b.freeze()
}

/// A ConsumerProtocolSubscription of `s.version` (clamped to 0..=3); for tests and tools.
pub fn encode_subscription(s: &Subscription) -> Bytes {
    let version = s.version.clamp(0, VERSION_MAX);
    let mut b = BytesMut::new();
    b.put_i16(version);
    b.put_i32(s.topics.len() as i32);
    for t in &s.topics {
        put_str(&mut b, t);
    }
    match &s.user_data {
        Some(d) => {
            b.put_i32(d.len() as i32);
            b.put_slice(d);
        }
        None => b.put_i32(-1),
    }
    if version >= 1 {
        b.put_i32(s.owned_partitions.len() as i32);
        for (topic, ps) in &s.owned_partitions {
            put_str(&mut b, topic);
            b.put_i32(ps.len() as i32);
            for p in ps {
                b.put_i32(*p);
            }
        }
    }
    if version >= 2 {
        b.put_i32(s.generation_id);
    }
    if version >= 3 {
        match &s.rack_id {
            Some(r) => put_str(&mut b, r),
            None => b.put_i16(-1),
        }
    }
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_of_every_version_round_trip_and_truncation_is_an_error() {
        for version in 0..=VERSION_MAX {
            let s = Subscription {
                version,
                topics: vec!["a".into(), "b".into()],
                user_data: Some(Bytes::from_static(b"ud")),
                owned_partitions: if version >= 1 {
                    vec![("a".into(), vec![0, 2])]
                } else {
                    Vec::new()
                },
                generation_id: if version >= 2 { 7 } else { -1 },
                rack_id: (version >= 3).then(|| "r1".to_string()),
            };
            let bytes = encode_subscription(&s);
            assert_eq!(decode_subscription(&bytes), Ok(s.clone()));
            assert_eq!(version_of(&bytes), version);
            for n in 0..bytes.len() {
                assert!(
                    decode_subscription(&bytes[..n]).is_err(),
                    "v{version} cut at {n}"
                );
            }
        }
        // A newer version reads as the newest known one (its extra fields are ignored).
        let mut v4 = encode_subscription(&Subscription {
            version: 3,
            topics: vec!["t".into()],
            ..Default::default()
        })
        .to_vec();
        v4[1] = 4;
        v4.extend_from_slice(&[0, 0, 0, 9]);
        assert_eq!(
            decode_subscription(&v4).unwrap().topics,
            vec!["t".to_string()]
        );
        assert!(decode_subscription(&[0xff, 0xff, 0, 0, 0, 0]).is_err());
        // A count far beyond the data is refused before anything is allocated.
        assert!(decode_subscription(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn assignments_round_trip() {
        let parts = vec![("a".to_string(), vec![1, 3]), ("b".to_string(), vec![0])];
        for version in 0..=VERSION_MAX {
            let bytes = encode_assignment(version, &parts);
            assert_eq!(version_of(&bytes), version);
            assert_eq!(decode_assignment(&bytes), Ok(parts.clone()));
            for n in 1..bytes.len() {
                assert!(decode_assignment(&bytes[..n]).is_err());
            }
        }
        assert_eq!(decode_assignment(&[]), Ok(Vec::new()));
    }
}
