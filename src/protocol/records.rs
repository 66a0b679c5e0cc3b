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
