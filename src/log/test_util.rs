//! Test helpers: build valid magic-2 record batches (uncompressed, varint records, correct
//! CRC-32C) and common log fixtures. Test-only; no locks; imports nothing outside the log layer
//! and its leaf modules.

use std::sync::Arc;

use bytes::Bytes;

use super::batch;
use crate::clock::{ManualClock, SharedClock};
use crate::config::TopicSettings;

/// Shape of one test batch. Record i has timestamp `base_timestamp_ms + i * timestamp_step_ms`
/// and a value of `value_bytes` bytes.
#[derive(Debug, Clone)]
pub struct TestBatch {
    pub records: usize,
    pub value_bytes: usize,
    pub base_timestamp_ms: i64,
    pub timestamp_step_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub attributes: i16,
    pub base_offset: i64,
}

impl Default for TestBatch {
    fn default() -> Self {
        TestBatch {
            records: 1,
            value_bytes: 10,
            base_timestamp_ms: 1_000,
            timestamp_step_ms: 1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            attributes: 0,
            base_offset: 0,
        }
    }
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if z < 0x80 {
            out.push(z as u8);
            return;
        }
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
}

impl TestBatch {
    pub fn build(&self) -> Bytes {
        let mut records = Vec::new();
        for i in 0..self.records {
            let mut r = Vec::new();
            r.push(0u8); // attributes
            put_varint(&mut r, i as i64 * self.timestamp_step_ms);
            put_varint(&mut r, i as i64);
            let key = format!("k{i}");
            put_varint(&mut r, key.len() as i64);
            r.extend_from_slice(key.as_bytes());
            put_varint(&mut r, self.value_bytes as i64);
            r.extend((0..self.value_bytes).map(|j| (i + j) as u8));
            put_varint(&mut r, 0); // headers
            put_varint(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        let n = self.records.max(1) as i64;
        let max_ts = self.base_timestamp_ms + (n - 1) * self.timestamp_step_ms.max(0);
        let mut b = Vec::new();
        b.extend_from_slice(&self.base_offset.to_be_bytes());
        let length = (batch::HEADER_BYTES - batch::LOG_OVERHEAD_BYTES + records.len()) as i32;
        b.extend_from_slice(&length.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.push(2);
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&self.attributes.to_be_bytes());
        b.extend_from_slice(&((self.records as i32) - 1).max(0).to_be_bytes());
        b.extend_from_slice(&self.base_timestamp_ms.to_be_bytes());
        b.extend_from_slice(&max_ts.to_be_bytes());
        b.extend_from_slice(&self.producer_id.to_be_bytes());
        b.extend_from_slice(&self.producer_epoch.to_be_bytes());
        b.extend_from_slice(&self.base_sequence.to_be_bytes());
        b.extend_from_slice(&(self.records as i32).to_be_bytes());
        b.extend_from_slice(&records);
        batch::rewrite_crc(&mut b).unwrap();
        Bytes::from(b)
    }
}

/// A batch of `records` records with default everything else.
pub fn simple(records: usize) -> Bytes {
    TestBatch {
        records,
        ..Default::default()
    }
    .build()
}

pub fn manual_clock(start_ms: i64) -> (Arc<ManualClock>, SharedClock) {
    let c = Arc::new(ManualClock::new(start_ms));
    let shared: SharedClock = c.clone();
    (c, shared)
}

pub fn small_settings(segment_bytes: u64) -> TopicSettings {
    TopicSettings {
        segment_bytes,
        index_interval_bytes: 100,
        ..TopicSettings::default()
    }
}
