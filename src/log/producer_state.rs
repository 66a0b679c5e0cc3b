//! Idempotent-producer state of one partition: per producer id, its epoch and the metadata of its
//! last `BATCHES_CACHED` batches, with Kafka's sequence rules.
//!
//! Rules: an epoch below the current one is fenced (InvalidProducerEpoch); a higher epoch must
//! start at sequence 0 and resets the state; within the same epoch a batch whose (first, last)
//! sequence equals a cached batch is a duplicate (its original offsets are returned, nothing is
//! written), otherwise the first sequence must be the last one + 1 (wrapping i32::MAX -> 0). A
//! producer id with no state accepts any sequence (its state may have been lost to retention).
//!
//! Invariants: state only advances after a batch is durably in the log's page cache (committed);
//! it is rebuilt at open from batch headers alone, so it is never persisted separately (no
//! snapshot files yet). No locks of its own (guarded by the `PartitionLog` lock).
//! Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::collections::{HashMap, VecDeque};

use super::LogError;
use super::batch::BatchHeader;

/// Kafka keeps the last five batches per producer for duplicate detection.
pub const BATCHES_CACHED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    fn push(&mut self, meta: BatchMetadata) {
        if self.batches.len() >= BATCHES_CACHED {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
    }
}

/// Outcome of checking one batch against the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Not an idempotent batch: no state involved.
    NotIdempotent,
    /// Accept; the entry the producer will have after this batch is written.
    Accept(ProducerEntry),
    /// Already in the log at these offsets.
    Duplicate(BatchMetadata),
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq == last_seq.wrapping_add(1) || (last_seq == i32::MAX && next_seq == 0)
}

#[derive(Debug, Default)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// Checks `header` (offsets already assigned: `base_offset`..`last_offset()`) against
    /// `current` (the producer's entry, possibly staged by earlier batches of the same append).
    pub fn check(
        current: Option<&ProducerEntry>,
        header: &BatchHeader,
    ) -> Result<SequenceCheck, LogError> {
        if !header.is_idempotent() {
            return Ok(SequenceCheck::NotIdempotent);
        }
        let pid = header.producer_id;
        let epoch = header.producer_epoch;
        let first_seq = header.base_sequence;
        let last_seq = header.last_sequence();
        let meta = BatchMetadata {
            first_seq,
            last_seq,
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            timestamp_ms: header.max_timestamp,
        };
        let Some(cur) = current else {
            let mut e = ProducerEntry {
                epoch,
                batches: VecDeque::new(),
            };
            e.push(meta);
            return Ok(SequenceCheck::Accept(e));
        };
        if epoch < cur.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: pid,
                current: cur.epoch,
                got: epoch,
            });
        }
        if epoch > cur.epoch {
            if first_seq != 0 {
                return Err(LogError::OutOfOrderSequence {
                    producer_id: pid,
                    expected: 0,
                    got: first_seq,
                });
            }
            let mut e = ProducerEntry {
                epoch,
                batches: VecDeque::new(),
            };
            e.push(meta);
            return Ok(SequenceCheck::Accept(e));
        }
        if let Some(dup) = cur
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        match cur.batches.back() {
            Some(last) if !in_sequence(last.last_seq, first_seq) => {
                Err(LogError::OutOfOrderSequence {
                    producer_id: pid,
                    expected: if last.last_seq == i32::MAX {
                        0
                    } else {
                        last.last_seq + 1
                    },
                    got: first_seq,
                })
            }
            _ => {
                let mut e = cur.clone();
                e.push(meta);
                Ok(SequenceCheck::Accept(e))
            }
        }
    }

    /// Installs the entry computed by `check` once its batch is written.
    pub fn commit(&mut self, producer_id: i64, entry: ProducerEntry) {
        self.producers.insert(producer_id, entry);
    }

    /// Replays a batch header found in the log at open: no validation, the log is the truth.
    pub fn load_batch(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 {
            return;
        }
        let e = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != e.epoch {
            if header.producer_epoch > e.epoch || e.batches.is_empty() {
                e.epoch = header.producer_epoch;
                e.batches.clear();
            } else {
                return;
            }
        }
        if header.base_sequence >= 0 {
            e.push(BatchMetadata {
                first_seq: header.base_sequence,
                last_seq: header.last_sequence(),
                base_offset: header.base_offset,
                last_offset: header.last_offset(),
                timestamp_ms: header.max_timestamp,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::TestBatch;

    fn header(pid: i64, epoch: i16, seq: i32, records: usize, base_offset: i64) -> BatchHeader {
        let b = TestBatch {
            records,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            base_offset,
            ..Default::default()
        }
        .build();
        BatchHeader::parse(&b).unwrap()
    }

    fn apply(m: &mut ProducerStateManager, h: &BatchHeader) -> Result<SequenceCheck, LogError> {
        let r = ProducerStateManager::check(m.entry(h.producer_id), h)?;
        if let SequenceCheck::Accept(e) = &r {
            m.commit(h.producer_id, e.clone());
        }
        Ok(r)
    }

    #[test]
    fn sequence_rules() {
        let mut m = ProducerStateManager::new();
        // Unknown producer: any sequence.
        assert!(matches!(
            apply(&mut m, &header(1, 0, 7, 2, 0)),
            Ok(SequenceCheck::Accept(_))
        ));
        assert!(matches!(
            apply(&mut m, &header(1, 0, 9, 1, 2)),
            Ok(SequenceCheck::Accept(_))
        ));
        // Duplicate of the first batch.
        match apply(&mut m, &header(1, 0, 7, 2, 99)).unwrap() {
            SequenceCheck::Duplicate(meta) => {
                assert_eq!((meta.base_offset, meta.last_offset), (0, 1))
            }
            other => panic!("{other:?}"),
        }
        // Gap.
        assert!(matches!(
            apply(&mut m, &header(1, 0, 12, 1, 3)),
            Err(LogError::OutOfOrderSequence {
                expected: 10,
                got: 12,
                ..
            })
        ));
        // Old epoch.
        assert!(matches!(
            apply(&mut m, &header(1, -1, 10, 1, 3)),
            Err(LogError::InvalidProducerEpoch { .. })
        ));
        // New epoch must start at 0.
        assert!(matches!(
            apply(&mut m, &header(1, 1, 10, 1, 3)),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        assert!(matches!(
            apply(&mut m, &header(1, 1, 0, 1, 3)),
            Ok(SequenceCheck::Accept(_))
        ));
        assert_eq!(m.entry(1).unwrap().batches.len(), 1);
        // Not idempotent.
        assert_eq!(
            apply(&mut m, &header(-1, -1, -1, 1, 4)).unwrap(),
            SequenceCheck::NotIdempotent
        );
    }

    #[test]
    fn cache_holds_five_and_wraps() {
        let mut m = ProducerStateManager::new();
        let mut seq = i32::MAX - 3;
        for i in 0..7 {
            apply(&mut m, &header(5, 0, seq, 2, i * 2)).unwrap();
            seq = header(5, 0, seq, 2, 0).last_sequence().wrapping_add(1);
            if seq < 0 {
                seq = 0;
            }
        }
        assert_eq!(m.entry(5).unwrap().batches.len(), BATCHES_CACHED);
    }
}
