//! The 61-byte header of a magic-2 record batch: parse, CRC-32C check, and splitting a buffer
//! into batches. Used by the log (append validation, recovery, reads) and by the server to
//! inspect produce requests; records themselves are never decoded here.
//!
//! Format (big-endian): base offset i64 | batch length i32 (bytes after this field) | partition
//! leader epoch i32 | magic i8 | crc u32 (CRC-32C over attributes..end) | attributes i16 (bits 0-2
//! codec, bit 3 LogAppendTime, bit 4 transactional, bit 5 control) | last offset delta i32 | base
//! timestamp i64 | max timestamp i64 | producer id i64 | producer epoch i16 | base sequence i32 |
//! record count i32, then the records.
//!
//! Invariants: every function takes untrusted bytes and returns `LogError::Corrupt` rather than
//! panicking; a parsed header has magic 2, a batch length covering at least the header, a
//! non-negative last offset delta, and `base_offset + last_offset_delta` that fits an i64.
//! No locks. Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::ops::Range;

use super::LogError;

/// Size of the v2 batch header, records excluded.
pub const HEADER_BYTES: usize = 61;
/// Base offset + batch length: the part of a batch not counted by its length field.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// The only record batch format this broker stores.
pub const MAGIC_V2: i8 = 2;

pub const BASE_OFFSET_POS: usize = 0;
pub const LENGTH_POS: usize = 8;
pub const PARTITION_LEADER_EPOCH_POS: usize = 12;
pub const MAGIC_POS: usize = 16;
pub const CRC_POS: usize = 17;
pub const ATTRIBUTES_POS: usize = 21;
pub const LAST_OFFSET_DELTA_POS: usize = 23;
pub const BASE_TIMESTAMP_POS: usize = 27;
pub const MAX_TIMESTAMP_POS: usize = 35;
pub const PRODUCER_ID_POS: usize = 43;
pub const PRODUCER_EPOCH_POS: usize = 51;
pub const BASE_SEQUENCE_POS: usize = 53;
pub const RECORD_COUNT_POS: usize = 57;

pub const ATTR_CODEC_MASK: i16 = 0x07;
pub const ATTR_LOG_APPEND_TIME: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;

/// A parsed v2 batch header (values as found in the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn field<const N: usize>(buf: &[u8], pos: usize) -> Result<[u8; N], LogError> {
    let end = pos
        .checked_add(N)
        .ok_or_else(|| LogError::Corrupt("field offset overflow".into()))?;
    buf.get(pos..end)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| LogError::Corrupt(format!("batch too short for field at byte {pos}")))
}

fn read_i64(buf: &[u8], pos: usize) -> Result<i64, LogError> {
    Ok(i64::from_be_bytes(field::<8>(buf, pos)?))
}
fn read_i32(buf: &[u8], pos: usize) -> Result<i32, LogError> {
    Ok(i32::from_be_bytes(field::<4>(buf, pos)?))
}
fn read_i16(buf: &[u8], pos: usize) -> Result<i16, LogError> {
    Ok(i16::from_be_bytes(field::<2>(buf, pos)?))
}

impl BatchHeader {
    /// Parses the first 61 bytes of `buf`; checks magic, length and offset-delta sanity but not
    /// the CRC (see `verify_crc`) and not that `buf` holds the whole batch.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, LogError> {
        if buf.len() < HEADER_BYTES {
            return Err(LogError::Corrupt(format!(
                "batch header needs {HEADER_BYTES} bytes, have {}",
                buf.len()
            )));
        }
        let magic = i8::from_be_bytes(field::<1>(buf, MAGIC_POS)?);
        if magic != MAGIC_V2 {
            return Err(LogError::Corrupt(format!(
                "unsupported magic {magic}, expected 2"
            )));
        }
        let h = BatchHeader {
            base_offset: read_i64(buf, BASE_OFFSET_POS)?,
            batch_length: read_i32(buf, LENGTH_POS)?,
            partition_leader_epoch: read_i32(buf, PARTITION_LEADER_EPOCH_POS)?,
            magic,
            crc: u32::from_be_bytes(field::<4>(buf, CRC_POS)?),
            attributes: read_i16(buf, ATTRIBUTES_POS)?,
            last_offset_delta: read_i32(buf, LAST_OFFSET_DELTA_POS)?,
            base_timestamp: read_i64(buf, BASE_TIMESTAMP_POS)?,
            max_timestamp: read_i64(buf, MAX_TIMESTAMP_POS)?,
            producer_id: read_i64(buf, PRODUCER_ID_POS)?,
            producer_epoch: read_i16(buf, PRODUCER_EPOCH_POS)?,
            base_sequence: read_i32(buf, BASE_SEQUENCE_POS)?,
            record_count: read_i32(buf, RECORD_COUNT_POS)?,
        };
        if (h.batch_length as i64) < (HEADER_BYTES - LOG_OVERHEAD_BYTES) as i64 {
            return Err(LogError::Corrupt(format!(
                "batch length {} below header size",
                h.batch_length
            )));
        }
        if h.last_offset_delta < 0 {
            return Err(LogError::Corrupt(format!(
                "negative last offset delta {}",
                h.last_offset_delta
            )));
        }
        if h.record_count < 0 {
            return Err(LogError::Corrupt(format!(
                "negative record count {}",
                h.record_count
            )));
        }
        if h.base_offset
            .checked_add(h.last_offset_delta as i64)
            .is_none()
        {
            return Err(LogError::Corrupt(format!(
                "base offset {} overflows",
                h.base_offset
            )));
        }
        Ok(h)
    }

    /// The whole batch's size on disk, including base offset and length fields.
    pub fn total_size_bytes(&self) -> usize {
        LOG_OVERHEAD_BYTES + self.batch_length.max(0) as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(self.last_offset_delta as i64)
    }

    /// The offset right after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression_codec(&self) -> u8 {
        (self.attributes & ATTR_CODEC_MASK) as u8
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// True when the batch carries idempotence metadata (producer id and sequence).
    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0 && self.base_sequence >= 0
    }

    /// The sequence of the batch's last record, wrapping past i32::MAX to 0 as Kafka does;
    /// -1 when the batch has no sequence.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let increment = self.last_offset_delta;
        if self.base_sequence > i32::MAX - increment {
            increment - (i32::MAX - self.base_sequence) - 1
        } else {
            self.base_sequence + increment
        }
    }
}

/// CRC-32C over attributes..end of a whole batch; `None` when `batch` is shorter than a header.
pub fn compute_crc(batch: &[u8]) -> Option<u32> {
    batch
        .get(ATTRIBUTES_POS..)
        .filter(|_| batch.len() >= HEADER_BYTES)
        .map(crc32c::crc32c)
}

/// Checks that `batch` (exactly one whole batch) is as long as its length field says and that its
/// stored CRC matches.
pub fn verify_crc(batch: &[u8]) -> Result<(), LogError> {
    let header = BatchHeader::parse(batch)?;
    if batch.len() != header.total_size_bytes() {
        return Err(LogError::Corrupt(format!(
            "batch length field says {} bytes, have {}",
            header.total_size_bytes(),
            batch.len()
        )));
    }
    let crc = compute_crc(batch).ok_or_else(|| LogError::Corrupt("batch too short".into()))?;
    if crc != header.crc {
        return Err(LogError::Corrupt(format!(
            "crc mismatch: stored {:#010x}, computed {crc:#010x}",
            header.crc
        )));
    }
    Ok(())
}

/// Writes a fresh CRC into a whole batch after its covered bytes were changed.
pub fn rewrite_crc(batch: &mut [u8]) -> Result<(), LogError> {
    let crc = compute_crc(batch).ok_or_else(|| LogError::Corrupt("batch too short".into()))?;
    batch
        .get_mut(CRC_POS..CRC_POS + 4)
        .ok_or_else(|| LogError::Corrupt("batch too short".into()))?
        .copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// One batch found in a buffer: its header and its byte range within that buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef {
    pub header: BatchHeader,
    pub range: Range<usize>,
}

/// Splits a buffer into whole batches. Yields `Err(Corrupt)` once, then stops, on a malformed or
/// truncated batch. Does not check CRCs (callers do, with `verify_crc` on `&buf[range]`).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BatchIter {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Bytes consumed by the batches yielded so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for BatchIter<'_> {
    type Item = Result<BatchRef, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let result = BatchHeader::parse(rest).and_then(|header| {
            let size = header.total_size_bytes();
            if size > rest.len() {
                return Err(LogError::Corrupt(format!(
                    "truncated batch at byte {}: needs {size} bytes, have {}",
                    self.pos,
                    rest.len()
                )));
            }
            Ok(BatchRef {
                header,
                range: self.pos..self.pos + size,
            })
        });
        match result {
            Ok(b) => {
                self.pos = b.range.end;
                Some(Ok(b))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Length of the longest prefix of `buf` made of whole batches (no CRC check): used to trim a
/// read at the last complete batch boundary.
pub fn whole_batches_len(buf: &[u8]) -> usize {
    let mut it = BatchIter::new(buf);
    while let Some(Ok(_)) = it.next() {}
    it.position()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::TestBatch;

    #[test]
    fn parse_and_verify_built_batch() {
        let b = TestBatch {
            records: 3,
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: 5,
            ..Default::default()
        }
        .build();
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.magic, 2);
        assert_eq!(h.record_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.total_size_bytes(), b.len());
        assert_eq!(h.last_sequence(), 7);
        assert!(h.is_idempotent());
        verify_crc(&b).unwrap();
    }

    #[test]
    fn bad_crc_magic_and_truncation_are_corrupt() {
        let b = TestBatch::default().build();
        let mut bad = b.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(matches!(verify_crc(&bad), Err(LogError::Corrupt(_))));
        let mut bad_magic = b.to_vec();
        bad_magic[MAGIC_POS] = 1;
        assert!(matches!(
            BatchHeader::parse(&bad_magic),
            Err(LogError::Corrupt(_))
        ));
        assert!(matches!(
            BatchHeader::parse(&b[..30]),
            Err(LogError::Corrupt(_))
        ));
        let mut two = b.to_vec();
        two.extend_from_slice(&b[..b.len() - 3]);
        let items: Vec<_> = BatchIter::new(&two).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        assert_eq!(whole_batches_len(&two), b.len());
    }

    #[test]
    fn sequence_wraps() {
        let mut h = BatchHeader::parse(
            &TestBatch {
                records: 3,
                base_sequence: i32::MAX - 1,
                producer_id: 1,
                ..Default::default()
            }
            .build(),
        )
        .unwrap();
        assert_eq!(h.last_sequence(), 0); // MAX-1, MAX, 0
        h.base_sequence = -1;
        assert_eq!(h.last_sequence(), -1);
    }

    #[test]
    fn garbage_never_panics() {
        let mut buf = [0u8; 200];
        for i in 0..buf.len() {
            buf[i] = (i * 37 % 251) as u8;
            let _ = BatchHeader::parse(&buf[..i]);
            let _ = verify_crc(&buf[..i]);
            let _: Vec<_> = BatchIter::new(&buf[..i]).collect();
        }
    }
}
