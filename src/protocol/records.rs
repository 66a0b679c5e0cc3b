//! Record-level reads of a single stored batch, for the rare paths that need them
//! (ListOffsets by timestamp, max timestamp). Never used on the produce or fetch path.
//!
//! Contract: input is one magic-2 batch as stored; output is an offset and timestamp, or an error
//! for a batch that cannot be decoded. Decompresses as needed.

use bytes::Bytes;
use kafka_protocol::records::{RecordBatchDecoder, TimestampType};

/// The first record of `batch` whose timestamp is >= `ts_ms`: (offset, timestamp).
pub fn first_record_at_or_after(batch: Bytes, ts_ms: i64) -> anyhow::Result<Option<(i64, i64)>> {
    Ok(records(batch)?.into_iter().find(|(_, ts)| *ts >= ts_ms))
}

/// The record of `batch` with the largest timestamp (the first such): (offset, timestamp).
pub fn max_timestamp_record(batch: Bytes) -> anyhow::Result<Option<(i64, i64)>> {
    let mut best: Option<(i64, i64)> = None;
    for (off, ts) in records(batch)? {
        if best.is_none_or(|(_, b)| ts > b) {
            best = Some((off, ts));
        }
    }
    Ok(best)
}

fn records(mut batch: Bytes) -> anyhow::Result<Vec<(i64, i64)>> {
    let set = RecordBatchDecoder::decode(&mut batch)?;
    Ok(set
        .records
        .iter()
        .map(|r| {
            let ts = r.timestamp;
            debug_assert!(matches!(
                r.timestamp_type,
                TimestampType::Creation | TimestampType::LogAppend
            ));
            (r.offset, ts)
        })
        .collect())
}

/// Encodes `(key, value)` records as one uncompressed magic-2 batch (no producer id), for the
/// broker's own internal topics.
pub fn encode_key_values(
    records: &[(Bytes, Option<Bytes>)],
    timestamp_ms: i64,
) -> anyhow::Result<Bytes> {
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions};
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder splits records without sequences into separate batches.
            sequence: i as i32,
            timestamp: timestamp_ms,
            key: Some(key.clone()),
            value: value.clone(),
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )?;
    Ok(buf.freeze())
}

/// The records of one stored batch as (offset, key, value).
pub fn decode_key_values(
    mut batch: Bytes,
) -> anyhow::Result<Vec<(i64, Option<Bytes>, Option<Bytes>)>> {
    let set = RecordBatchDecoder::decode(&mut batch)?;
    Ok(set
        .records
        .into_iter()
        .map(|r| (r.offset, r.key, r.value))
        .collect())
}
