//! The checker, in the spirit of Jepsen's queue checkers: from what the clients were told and
//! what the settled cluster holds, decide whether any promise was broken.
//!
//! Contract: pure functions of their inputs (no I/O, no clock). A record's payload names its
//! stream and its send sequence (`payload`), so a record found in a log is traced to the send
//! that produced it. The promises checked, per stream: acks=all with min.insync.replicas=2 loses
//! no acknowledged record (it is at its acknowledged offset, unchanged); an idempotent producer
//! also writes each record once and in send order; acks=1 promises nothing and is only counted.
//! For every partition: offsets are gapless from the log start to the high watermark, every
//! replica holds the same bytes below it, no consumer saw a record that is not there now, and
//! the group's committed offsets never move backwards.

use std::collections::{BTreeMap, HashMap};

/// What a stream's producer promises (by its acks and idempotence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promise {
    /// Idempotent, acks=all: no loss, no duplicate, send order kept per partition.
    ExactlyOnceInOrder,
    /// acks=all, not idempotent: no loss; retries may duplicate or reorder.
    NoLoss,
    /// acks=1: a leader that dies before its followers fetch takes the write with it.
    None,
}

/// The payload of send `seq` of `stream`.
pub fn payload(stream: &str, seq: u64) -> String {
    format!("{stream}:{seq}")
}

/// The send sequence of a payload of `stream`, if it is one.
pub fn sequence_of(stream: &str, payload: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(payload).ok()?;
    s.strip_prefix(stream)?.strip_prefix(':')?.parse().ok()
}

/// One acknowledged send: the producer was told `seq` is at `offset` of `partition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub partition: i32,
    pub offset: i64,
}

/// A partition as the settled cluster holds it, read through a client up to the high
/// watermark: `(offset, seq)` of every record of the stream, in offset order.
#[derive(Clone, Debug, Default)]
pub struct PartitionRead {
    pub partition: i32,
    pub log_start: i64,
    pub high_watermark: i64,
    pub records: Vec<(i64, u64)>,
    /// Offsets that held a record not of this stream (there should be none).
    pub foreign: Vec<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamVerdict {
    pub acked: usize,
    /// Acknowledged sends not at their acknowledged offset (or changed there).
    pub lost: Vec<Ack>,
    /// Extra copies of a send in the logs.
    pub duplicated: u64,
    /// Adjacent records of one partition whose send order is reversed in the log (checked for
    /// the idempotent stream only), plus acknowledged pairs whose offsets disagree with their
    /// send order.
    pub reordered: u64,
    /// (partition, first missing offset, offset after the gap).
    pub gaps: Vec<(i32, i64, i64)>,
    /// (partition, offset) of records the stream did not send.
    pub foreign: Vec<(i32, i64)>,
}

impl StreamVerdict {
    /// Whether the stream's promise held (gaps and foreign records break every promise).
    pub fn holds(&self, promise: Promise) -> bool {
        let universal = self.gaps.is_empty() && self.foreign.is_empty();
        universal
            && match promise {
                Promise::ExactlyOnceInOrder => {
                    self.lost.is_empty() && self.duplicated == 0 && self.reordered == 0
                }
                Promise::NoLoss => self.lost.is_empty(),
                Promise::None => true,
            }
    }
}

pub fn check_stream(promise: Promise, acked: &[Ack], logs: &[PartitionRead]) -> StreamVerdict {
    let mut v = StreamVerdict {
        acked: acked.len(),
        ..Default::default()
    };
    let mut at: HashMap<(i32, i64), u64> = HashMap::new();
    let mut copies: HashMap<u64, u64> = HashMap::new();
    for log in logs {
        let mut expected = log.log_start;
        let mut offsets: Vec<i64> = log.records.iter().map(|r| r.0).collect();
        offsets.extend(&log.foreign);
        offsets.sort_unstable();
        for o in offsets {
            if o > expected {
                v.gaps.push((log.partition, expected, o));
            }
            expected = expected.max(o + 1);
        }
        if expected < log.high_watermark {
            v.gaps.push((log.partition, expected, log.high_watermark));
        }
        v.foreign
            .extend(log.foreign.iter().map(|o| (log.partition, *o)));
        for &(offset, seq) in &log.records {
            at.insert((log.partition, offset), seq);
            *copies.entry(seq).or_default() += 1;
        }
        if promise == Promise::ExactlyOnceInOrder {
            v.reordered += log.records.windows(2).filter(|w| w[1].1 <= w[0].1).count() as u64;
        }
    }
    v.duplicated = copies.values().map(|c| c - 1).sum();
    v.lost = acked
        .iter()
        .filter(|a| at.get(&(a.partition, a.offset)) != Some(&a.seq))
        .copied()
        .collect();
    if promise == Promise::ExactlyOnceInOrder {
        let mut by_partition: BTreeMap<i32, Vec<Ack>> = BTreeMap::new();
        for a in acked {
            by_partition.entry(a.partition).or_default().push(*a);
        }
        for acks in by_partition.values_mut() {
            acks.sort_by_key(|a| a.seq);
            v.reordered += acks
                .windows(2)
                .filter(|w| w[1].offset <= w[0].offset)
                .count() as u64;
        }
    }
    v
}

/// Records a consumer was handed, `(partition, offset, seq)`, that the settled log does not
/// hold at that offset: a read of something that later vanished.
pub fn vanished(seen: &[(i32, i64, u64)], logs: &[PartitionRead]) -> Vec<(i32, i64, u64)> {
    let at: HashMap<(i32, i64), u64> = logs
        .iter()
        .flat_map(|l| l.records.iter().map(move |(o, s)| ((l.partition, *o), *s)))
        .collect();
    seen.iter()
        .filter(|(p, o, s)| at.get(&(*p, *o)) != Some(s))
        .copied()
        .collect()
}

/// Samples of the group's committed offsets, `(partition, offset)` in the order they were
/// read: those lower than an earlier sample of the same partition.
pub fn commits_backwards(samples: &[(i32, i64)]) -> Vec<(i32, i64, i64)> {
    let mut highest: HashMap<i32, i64> = HashMap::new();
    let mut out = Vec::new();
    for &(p, o) in samples {
        let h = highest.entry(p).or_insert(o);
        if o < *h {
            out.push((p, *h, o));
        } else {
            *h = o;
        }
    }
    out
}

/// Partitions whose replicas differ below the high watermark: `replicas` holds, per partition,
/// each replica's node id and its log bytes up to the leader's high watermark.
pub fn divergent_replicas<K: Ord + Clone>(
    replicas: &BTreeMap<K, Vec<(i32, Vec<u8>)>>,
) -> Vec<(K, Vec<i32>)> {
    replicas
        .iter()
        .filter(|(_, copies)| copies.windows(2).any(|w| w[0].1 != w[1].1))
        .map(|(p, copies)| (p.clone(), copies.iter().map(|c| c.0).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(partition: i32, hw: i64, records: &[(i64, u64)]) -> PartitionRead {
        PartitionRead {
            partition,
            log_start: 0,
            high_watermark: hw,
            records: records.to_vec(),
            foreign: vec![],
        }
    }

    fn ack(seq: u64, partition: i32, offset: i64) -> Ack {
        Ack {
            seq,
            partition,
            offset,
        }
    }

    #[test]
    fn payloads_name_their_stream_and_send() {
        assert_eq!(
            sequence_of("idem", payload("idem", 42).as_bytes()),
            Some(42)
        );
        assert_eq!(sequence_of("idem", payload("all", 42).as_bytes()), None);
        assert_eq!(sequence_of("idem", b"idem:x"), None);
        assert_eq!(sequence_of("idem", b"idem42"), None);
    }

    #[test]
    fn a_clean_history_holds_every_promise() {
        let logs = [
            read(0, 3, &[(0, 0), (1, 2), (2, 4)]),
            read(1, 2, &[(0, 1), (1, 3)]),
        ];
        let acked = [
            ack(0, 0, 0),
            ack(1, 1, 0),
            ack(2, 0, 1),
            ack(3, 1, 1),
            ack(4, 0, 2),
        ];
        let v = check_stream(Promise::ExactlyOnceInOrder, &acked, &logs);
        assert_eq!(
            v,
            StreamVerdict {
                acked: 5,
                ..Default::default()
            }
        );
        assert!(v.holds(Promise::ExactlyOnceInOrder));
    }

    #[test]
    fn a_lost_or_moved_acknowledged_record_is_caught() {
        // Send 1 was acknowledged at offset 1 but the log holds send 2 there (and 1 nowhere).
        let logs = [read(0, 2, &[(0, 0), (1, 2)])];
        let acked = [ack(0, 0, 0), ack(1, 0, 1)];
        let v = check_stream(Promise::NoLoss, &acked, &logs);
        assert_eq!(v.lost, vec![ack(1, 0, 1)]);
        assert!(!v.holds(Promise::NoLoss));
        assert!(v.holds(Promise::None), "acks=1 promises nothing");
    }

    #[test]
    fn duplicates_and_reordering_break_only_idempotence() {
        let logs = [read(0, 4, &[(0, 0), (1, 2), (2, 1), (3, 2)])];
        let acked = [ack(0, 0, 0), ack(1, 0, 2), ack(2, 0, 1)];
        let v = check_stream(Promise::ExactlyOnceInOrder, &acked, &logs);
        assert_eq!(v.duplicated, 1);
        // Log order 2 then 1 (and 1 then 2 again is fine), acked 1 at 2 after 2 at 1.
        assert_eq!(v.reordered, 2);
        assert!(!v.holds(Promise::ExactlyOnceInOrder));
        let plain = check_stream(Promise::NoLoss, &acked, &logs);
        assert_eq!(plain.reordered, 0);
        assert!(plain.holds(Promise::NoLoss));
    }

    #[test]
    fn gaps_below_the_high_watermark_break_every_promise() {
        let logs = [read(0, 5, &[(0, 0), (1, 1), (3, 2)])];
        let v = check_stream(Promise::None, &[], &logs);
        assert_eq!(v.gaps, vec![(0, 2, 3), (0, 4, 5)]);
        assert!(!v.holds(Promise::None));
    }

    #[test]
    fn a_read_that_later_vanished_is_caught() {
        let logs = [read(0, 2, &[(0, 0), (1, 1)])];
        let seen = [(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 1, 1)];
        assert_eq!(vanished(&seen, &logs), vec![(0, 2, 2)]);
        let changed = [(0, 1, 5)];
        assert_eq!(vanished(&changed, &logs), vec![(0, 1, 5)]);
    }

    #[test]
    fn committed_offsets_must_not_move_backwards() {
        let samples = [(0, 5), (1, 3), (0, 7), (0, 7), (1, 2), (0, 9)];
        assert_eq!(commits_backwards(&samples), vec![(1, 3, 2)]);
        assert!(commits_backwards(&[(0, 1), (0, 2)]).is_empty());
    }

    #[test]
    fn replicas_must_hold_the_same_bytes() {
        let mut replicas = BTreeMap::new();
        replicas.insert(
            0,
            vec![
                (1, b"ab".to_vec()),
                (2, b"ab".to_vec()),
                (3, b"ab".to_vec()),
            ],
        );
        replicas.insert(1, vec![(1, b"ab".to_vec()), (2, b"ax".to_vec())]);
        assert_eq!(divergent_replicas(&replicas), vec![(1, vec![1, 2])]);
    }
}
