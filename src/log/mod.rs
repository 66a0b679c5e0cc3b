//! Durable partition storage: record batches kept verbatim in Kafka's own on-disk layout.
//!
//! Purpose: `LogManager` owns a log directory and its checkpoint files; `PartitionLog` owns one
//! `<topic>-<partition>` directory of segments (`.log` + `.index` + `.timeindex`). Record batches
//! are opaque bytes plus a parsed 61-byte v2 header (`batch`); the broker never decodes records on
//! the hot path.
//!
//! Invariants: `log_start_offset <= recovery_point <= log_end_offset` is asserted wherever it
//! moves; a reader only ever sees bytes below a segment's committed size, so never a half-written
//! batch; bytes from files and from callers are never trusted (no unwrap, no unchecked indexing).
//!
//! On-disk format: see `segment` (log and index files), `checkpoint` (checkpoint files,
//! `partition.metadata`, `leader-epoch-checkpoint`) and `manager` (the clean-shutdown marker).
//!
//! Lock order: `LogManager::logs` before any `PartitionLog::inner`; no other locks are nested.
//! File I/O on the read path happens with no lock held.
//!
//! Must not import: protocol, `kafka_protocol`, server, group, replication, `tokio` (the log layer
//! is synchronous and uses std::sync locks only).

pub mod background;
pub mod batch;
pub mod checkpoint;
pub mod index;
pub mod manager;
pub mod page_cache;
pub mod partition;
pub mod producer_state;
pub mod read_ahead;
pub mod segment;

#[cfg(test)]
pub(crate) mod test_util;

pub use batch::{BatchHeader, BatchIter, BatchRef};
pub use manager::LogManager;
pub use partition::{AppendResult, PartitionLog, ReadResult, delete_partition_dir};

/// Everything the log layer can fail with. The server maps each variant to one Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Bad CRC, bad length, magic != 2, bad header fields, malformed file content
    /// (server: CORRUPT_MESSAGE).
    #[error("corrupt record batch or log data: {0}")]
    Corrupt(String),
    /// One batch is larger than the topic's `max.message.bytes` (server: MESSAGE_TOO_LARGE).
    #[error("record batch of {size_bytes} bytes exceeds max.message.bytes {max_bytes}")]
    MessageTooLarge { size_bytes: usize, max_bytes: usize },
    /// The requested offset lies outside `[log_start, log_end]` (server: OFFSET_OUT_OF_RANGE).
    #[error("offset {requested} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        requested: i64,
        log_start: i64,
        log_end: i64,
    },
    /// An idempotent producer skipped or reordered sequence numbers
    /// (server: OUT_OF_ORDER_SEQUENCE_NUMBER).
    #[error("producer {producer_id}: expected sequence {expected}, got {got}")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    /// An idempotent producer wrote with an epoch older than the current one
    /// (server: INVALID_PRODUCER_EPOCH).
    #[error("producer {producer_id}: epoch {got} is older than current epoch {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        current: i16,
        got: i16,
    },
    /// A follower's replicated append does not continue the log: its first batch does not start
    /// at the log end, or its batches leave a gap or overlap (server: UNKNOWN_SERVER_ERROR; the
    /// fetcher handles it, no client sees it).
    #[error("replicated batch starts at offset {got}, expected {expected}")]
    OutOfOrderReplica { expected: i64, got: i64 },
    /// `partition.metadata` names another topic id than the one the caller opened the log with
    /// (server: INCONSISTENT_TOPIC_ID).
    #[error("partition.metadata holds topic id {found}, expected {expected}")]
    InconsistentTopicId { expected: String, found: String },
    /// The log was closed or deleted; no more appends (server: NOT_LEADER_OR_FOLLOWER or
    /// KAFKA_STORAGE_ERROR, depending on why).
    #[error("log is closed")]
    Closed,
    /// An offset would not fit the segment's 32-bit relative offsets or positions, or offsets
    /// would overflow i64 (server: CORRUPT_MESSAGE / UNKNOWN_SERVER_ERROR).
    #[error("offset or position overflow: {0}")]
    Overflow(String),
    /// The file system failed (server: KAFKA_STORAGE_ERROR).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
