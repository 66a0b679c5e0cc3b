//! Tests of the follower-side operations: replicated appends, truncation, epoch assignment.
//! A "leader" `PartitionLog` produces the batches (so they carry offsets and epochs exactly as
//! a leader stores them) and a "follower" `PartitionLog` in its own directory takes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::tests::{batches, idem, log_files, open, read_all};
use super::*;
use crate::log::test_util::{TestBatch, manual_clock, simple, small_settings};

const E1: LeaderEpoch = LeaderEpoch(1);
const E3: LeaderEpoch = LeaderEpoch(3);

struct Pair {
    _tmp: tempfile::TempDir,
    leader: PartitionLog,
    follower: PartitionLog,
    follower_dir: PathBuf,
    clock: SharedClock,
}

fn pair(leader_settings: TopicSettings, follower_settings: TopicSettings) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let (_c, clock) = manual_clock(1_000_000);
    let leader = open(&tmp.path().join("leader-0"), leader_settings, &clock, None);
    let follower_dir = tmp.path().join("follower-0");
    let follower = open(&follower_dir, follower_settings, &clock, None);
    Pair {
        _tmp: tmp,
        leader,
        follower,
        follower_dir,
        clock,
    }
}

/// Every byte of `log` from `from` to its end, as fetches return them.
fn bytes_from(log: &PartitionLog, from: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = Offset(from);
    while at < log.log_end_offset() {
        let r = log.read(at, 1 << 20, Offset(i64::MAX), true).unwrap();
        let b = batches(&r.records);
        assert!(!b.is_empty(), "no progress at {at:?}");
        at = Offset(b.last().unwrap().1 + 1);
        out.extend_from_slice(&r.records);
    }
    out
}

/// Copies the leader's batches from the follower's log end on, one fetch-sized read at a time.
fn replicate(leader: &PartitionLog, follower: &PartitionLog) {
    while follower.log_end_offset() < leader.log_end_offset() {
        let r = leader
            .read(follower.log_end_offset(), 700, Offset(i64::MAX), true)
            .unwrap();
        follower.append_replicated(r.records).unwrap();
    }
}

/// A batch as a leader in `epoch` stores it at `base_offset` (the epoch lies outside the CRC).
fn stored_batch(base_offset: i64, epoch: i32, records: usize) -> Bytes {
    let b = TestBatch {
        records,
        base_offset,
        ..Default::default()
    }
    .build();
    let mut v = b.to_vec();
    v[batch::PARTITION_LEADER_EPOCH_POS..batch::PARTITION_LEADER_EPOCH_POS + 4]
        .copy_from_slice(&epoch.to_be_bytes());
    Bytes::from(v)
}

fn concat(parts: &[Bytes]) -> Bytes {
    Bytes::from(parts.concat())
}

fn epochs(log: &PartitionLog) -> Vec<(i32, i64)> {
    log.leader_epochs()
        .iter()
        .map(|(e, o)| (e.0, o.0))
        .collect()
}

fn epoch_file(dir: &Path) -> Vec<(i32, i64)> {
    checkpoint::read_leader_epoch_checkpoint(dir).unwrap()
}

/// Log end, log start, epochs and batches of a log: what a reopen must reproduce.
fn shape(log: &PartitionLog) -> (i64, i64, Vec<(i32, i64)>, Vec<(i64, i64)>) {
    (
        log.log_end_offset().0,
        log.log_start_offset().0,
        epochs(log),
        read_all(log),
    )
}

#[test]
fn replicated_append_keeps_offsets_epochs_and_bytes() {
    let mut follower_settings = small_settings(400);
    // Followers make no max.message.bytes check.
    follower_settings.max_message_bytes = 80;
    let p = pair(small_settings(400), follower_settings.clone());
    for i in 0..6 {
        p.leader.append(simple(1 + i % 3), E1).unwrap();
    }
    for i in 0..6 {
        p.leader.append(simple(1 + i % 2), E3).unwrap();
    }
    replicate(&p.leader, &p.follower);
    assert_eq!(p.follower.log_end_offset(), p.leader.log_end_offset());
    assert_eq!(bytes_from(&p.follower, 0), bytes_from(&p.leader, 0));
    let e3_start = p.leader.leader_epochs()[1].1.0;
    assert_eq!(epochs(&p.follower), vec![(1, 0), (3, e3_start)]);
    assert_eq!(epochs(&p.follower), epochs(&p.leader));
    assert!(p.follower.segment_count() > 1, "replicated across rolls");
    let before = shape(&p.follower);

    // Flushed epochs reach the file; a clean and an unclean reopen agree.
    p.follower.flush().unwrap();
    assert_eq!(epoch_file(&p.follower_dir), before.2);
    let Pair {
        follower,
        follower_dir,
        clock,
        ..
    } = p;
    follower.close().unwrap();
    drop(follower);
    let f = open(&follower_dir, follower_settings.clone(), &clock, None);
    assert_eq!(shape(&f), before);
    drop(f);
    let f = open(&follower_dir, follower_settings, &clock, Some(0));
    assert_eq!(shape(&f), before);
}

#[test]
fn replicated_append_rejects_gaps_overlaps_and_bad_batches() {
    let p = pair(small_settings(1 << 20), small_settings(1 << 20));
    let f = &p.follower;
    assert!(matches!(
        f.append_replicated(stored_batch(5, 1, 1)),
        Err(LogError::OutOfOrderReplica {
            expected: 0,
            got: 5
        })
    ));
    let r = f.append_replicated(stored_batch(0, 1, 3)).unwrap();
    assert_eq!(
        (r.base_offset.0, r.last_offset.0, r.duplicate),
        (0, 2, false)
    );
    // Overlap with what the log has.
    assert!(matches!(
        f.append_replicated(stored_batch(1, 1, 2)),
        Err(LogError::OutOfOrderReplica {
            expected: 3,
            got: 1
        })
    ));
    // A gap between two batches of one append: nothing of it is written.
    let gap = concat(&[stored_batch(3, 1, 2), stored_batch(6, 1, 1)]);
    assert!(matches!(
        f.append_replicated(gap),
        Err(LogError::OutOfOrderReplica {
            expected: 5,
            got: 6
        })
    ));
    let overlap = concat(&[stored_batch(3, 1, 2), stored_batch(4, 1, 1)]);
    assert!(matches!(
        f.append_replicated(overlap),
        Err(LogError::OutOfOrderReplica {
            expected: 5,
            got: 4
        })
    ));
    assert_eq!(f.log_end_offset(), Offset(3));
    // A bad CRC anywhere rejects the whole append.
    let mut bad = concat(&[stored_batch(3, 1, 2), stored_batch(5, 1, 1)]).to_vec();
    let n = bad.len();
    bad[n - 1] ^= 0x40;
    assert!(matches!(
        f.append_replicated(Bytes::from(bad)),
        Err(LogError::Corrupt(_))
    ));
    assert!(matches!(
        f.append_replicated(Bytes::new()),
        Err(LogError::Corrupt(_))
    ));
    assert_eq!(f.log_end_offset(), Offset(3));
    assert_eq!(read_all(f), vec![(0, 2)]);
    // Contiguous batches of several epochs: each greater one is recorded at its base offset.
    let ok = concat(&[
        stored_batch(3, 1, 2),
        stored_batch(5, 4, 1),
        stored_batch(6, 2, 1),
        stored_batch(7, 6, 2),
    ]);
    let r = f.append_replicated(ok).unwrap();
    assert_eq!((r.base_offset.0, r.last_offset.0), (3, 8));
    assert_eq!(epochs(f), vec![(1, 0), (4, 5), (6, 7)]);
    assert_eq!(read_all(f), vec![(0, 2), (3, 4), (5, 5), (6, 6), (7, 8)]);
}

#[test]
fn follower_producer_state_catches_retries_and_gaps_after_becoming_leader() {
    let p = pair(small_settings(1 << 20), small_settings(1 << 20));
    p.leader.append(simple(2), E1).unwrap(); // 0..=1
    p.leader.append(idem(7, 0, 0, 2), E1).unwrap(); // 2..=3
    p.leader.append(idem(7, 0, 2, 3), E1).unwrap(); // 4..=6
    p.leader.append(idem(8, 2, 10, 1), E1).unwrap(); // 7, a producer new to the leader
    replicate(&p.leader, &p.follower);
    // Sequence rules never reject a replicated batch: the leader decided (a gap for producer 8).
    let gap = TestBatch {
        records: 1,
        producer_id: 8,
        producer_epoch: 2,
        base_sequence: 20,
        base_offset: 8,
        ..Default::default()
    }
    .build();
    p.follower.append_replicated(gap).unwrap(); // 8
    assert_eq!(p.follower.log_end_offset(), Offset(9));

    // The follower becomes leader in epoch 5.
    let f = &p.follower;
    f.assign_epoch_start(LeaderEpoch(5)).unwrap();
    let dup = f.append(idem(7, 0, 2, 3), LeaderEpoch(5)).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset.0, dup.last_offset.0), (4, 6));
    let dup = f.append(idem(7, 0, 0, 2), LeaderEpoch(5)).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset.0, dup.last_offset.0), (2, 3));
    assert!(matches!(
        f.append(idem(7, 0, 9, 1), LeaderEpoch(5)),
        Err(LogError::OutOfOrderSequence {
            producer_id: 7,
            expected: 5,
            got: 9
        })
    ));
    assert!(matches!(
        f.append(idem(8, 1, 21, 1), LeaderEpoch(5)),
        Err(LogError::InvalidProducerEpoch {
            producer_id: 8,
            current: 2,
            got: 1
        })
    ));
    assert_eq!(f.log_end_offset(), Offset(9), "nothing written");
    let next = f.append(idem(8, 2, 21, 1), LeaderEpoch(5)).unwrap();
    assert_eq!((next.base_offset.0, next.duplicate), (9, false));
    assert_eq!(epochs(f), vec![(1, 0), (5, 9)]);
}

#[test]
fn truncate_mid_segment_and_across_segments_then_append_and_reopen() {
    let settings = small_settings(400);
    let p = pair(settings.clone(), settings.clone());
    let mut spans = Vec::new();
    for i in 0..30 {
        let epoch = if i < 12 { E1 } else { E3 };
        let r = p.leader.append(idem(7, 0, i * 2, 2), epoch).unwrap();
        spans.push((r.base_offset.0, r.last_offset.0));
    }
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    let segments_before = f.segment_count();
    assert!(segments_before >= 4, "segments: {segments_before}");
    let files_before = log_files(&p.follower_dir);

    // Mid-segment, at a batch boundary, several segments back.
    let cut = spans[9].0;
    f.truncate_to(Offset(cut)).unwrap();
    assert_eq!(f.log_end_offset(), Offset(cut));
    assert_eq!(f.recovery_point(), Offset(cut));
    assert_eq!(read_all(f), spans[..9].to_vec());
    assert!(f.segment_count() < segments_before);
    assert_eq!(log_files(&p.follower_dir).len(), f.segment_count());
    assert!(log_files(&p.follower_dir).len() < files_before.len());
    // Epoch 3 began after the cut: gone, from memory and from the file.
    assert_eq!(epochs(f), vec![(1, 0)]);
    assert_eq!(epoch_file(&p.follower_dir), vec![(1, 0)]);
    assert_eq!(
        bytes_from(f, spans[0].0).len() as u64,
        f.size_bytes(),
        "reads end at the cut"
    );
    // Producer state matches the kept batches: batch 9 (sequence 18) is new again, batch 8 a
    // duplicate.
    assert!(f.append(idem(7, 0, 16, 2), E3).unwrap().duplicate);

    // Appends go on at the new end: the new leader's batches in epoch 4.
    let new_leader_batch = concat(&[stored_batch(cut, 4, 2), stored_batch(cut + 2, 4, 1)]);
    let r = f.append_replicated(new_leader_batch).unwrap();
    assert_eq!(r.base_offset.0, cut);
    assert_eq!(epochs(f), vec![(1, 0), (4, cut)]);
    let r = f.append(idem(7, 0, 18, 2), LeaderEpoch(4)).unwrap();
    assert!(!r.duplicate, "the truncated batch's retry is written again");
    assert_eq!(r.base_offset.0, cut + 3);
    let expected = shape(f);

    // Reopen: clean, then unclean (no close, full recovery), then unclean from the recovery point.
    let Pair {
        follower,
        follower_dir,
        clock,
        ..
    } = p;
    let rp = follower.flush().unwrap();
    follower.close().unwrap();
    drop(follower);
    let f = open(&follower_dir, settings.clone(), &clock, None);
    assert_eq!(shape(&f), expected);
    assert!(f.append(idem(7, 0, 18, 2), E3).unwrap().duplicate);
    drop(f);
    let f = open(&follower_dir, settings.clone(), &clock, Some(0));
    assert_eq!(shape(&f), expected);
    assert!(f.append(idem(7, 0, 18, 2), E3).unwrap().duplicate);
    drop(f);
    let f = open(&follower_dir, settings.clone(), &clock, Some(rp.0));
    assert_eq!(shape(&f), expected);
}

#[test]
fn truncated_segment_indexes_equal_a_rebuild() {
    let settings = small_settings(1 << 20);
    let p = pair(settings.clone(), settings.clone());
    let mut spans = Vec::new();
    for i in 0..40 {
        let b = TestBatch {
            records: 1 + i % 3,
            base_timestamp_ms: 1_000 + (i as i64 * 7) % 50,
            ..Default::default()
        }
        .build();
        let r = p.leader.append(b, E1).unwrap();
        spans.push((r.base_offset.0, r.last_offset.0));
    }
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    let cut = spans[23].0;
    f.truncate_to(Offset(cut)).unwrap();
    let index = p.follower_dir.join("00000000000000000000.index");
    let time_index = p.follower_dir.join("00000000000000000000.timeindex");
    let (index_bytes, time_bytes) = (
        std::fs::read(&index).unwrap(),
        std::fs::read(&time_index).unwrap(),
    );
    let entries = crate::log::index::decode_offset_entries(&index_bytes).unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|(rel, _)| i64::from(*rel) < cut));
    // Timestamp lookups see only kept batches.
    let max = f.batch_with_max_timestamp().unwrap().unwrap();
    assert!(BatchHeader::parse(&max).unwrap().base_offset < cut);
    // Appending after the cut extends the indexes as a rebuild would.
    for i in 0..10 {
        let b = TestBatch {
            records: 1 + i % 2,
            base_timestamp_ms: 2_000 + i as i64,
            ..Default::default()
        }
        .build();
        f.append(b, E3).unwrap();
    }
    let (index_now, time_now) = (
        std::fs::read(&index).unwrap(),
        std::fs::read(&time_index).unwrap(),
    );
    assert!(index_now.starts_with(&index_bytes) && time_now.starts_with(&time_bytes));
    let Pair {
        follower,
        follower_dir,
        clock,
        ..
    } = p;
    drop(follower);
    // Recovery rebuilds both indexes from the log: the same bytes.
    let _f = open(&follower_dir, settings, &clock, Some(0));
    assert_eq!(std::fs::read(&index).unwrap(), index_now);
    assert_eq!(std::fs::read(&time_index).unwrap(), time_now);
}

#[test]
fn truncate_inside_a_batch_drops_the_whole_batch() {
    let p = pair(small_settings(1 << 20), small_settings(1 << 20));
    p.leader.append(simple(3), E1).unwrap(); // 0..=2
    p.leader.append(simple(3), E1).unwrap(); // 3..=5
    p.leader.append(simple(2), E3).unwrap(); // 6..=7
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    f.truncate_to(Offset(7)).unwrap();
    assert_eq!(f.log_end_offset(), Offset(6));
    assert_eq!(epochs(f), vec![(1, 0)], "epoch 3 began at 6");
    f.truncate_to(Offset(4)).unwrap();
    assert_eq!(f.log_end_offset(), Offset(3));
    assert_eq!(read_all(f), vec![(0, 2)]);
    assert_eq!(f.append(simple(1), E3).unwrap().base_offset, Offset(3));
}

#[test]
fn truncate_bounds_and_log_start() {
    let p = pair(small_settings(1 << 20), small_settings(1 << 20));
    for _ in 0..4 {
        p.leader.append(simple(3), E1).unwrap();
    }
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    let files = log_files(&p.follower_dir);
    f.truncate_to(Offset(12)).unwrap();
    f.truncate_to(Offset(100)).unwrap();
    assert_eq!(f.log_end_offset(), Offset(12), "at or past the end: no-op");
    assert_eq!(log_files(&p.follower_dir), files);
    f.advance_log_start_offset(Offset(4));
    assert!(matches!(
        f.truncate_to(Offset(3)),
        Err(LogError::OffsetOutOfRange {
            requested: 3,
            log_start: 4,
            log_end: 12
        })
    ));
    // Offset 4 lies in batch 3..=5, which began below the log start: the log start follows.
    f.truncate_to(Offset(4)).unwrap();
    assert_eq!(
        (f.log_start_offset(), f.log_end_offset()),
        (Offset(3), Offset(3))
    );
    assert_eq!(
        f.read(Offset(3), 1 << 20, Offset(i64::MAX), true)
            .unwrap()
            .records
            .len(),
        0
    );
    f.close().unwrap();
    assert!(matches!(f.truncate_to(Offset(0)), Err(LogError::Closed)));
}

/// Found by `gregor-chaos` (seed 4): a node that led an epoch without writing in it, then
/// followed, was told to truncate to its own log end and kept the empty epoch, so it fetched
/// with that epoch and was told the same divergence forever. Kafka's `truncateTo` drops such an
/// entry even when no batch is cut.
#[test]
fn truncating_at_the_log_end_drops_an_epoch_that_got_no_batch() {
    let p = pair(small_settings(1 << 20), small_settings(1 << 20));
    p.leader.append(simple(3), E1).unwrap();
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    f.assign_epoch_start(E3).unwrap();
    assert_eq!(epochs(f), vec![(1, 0), (3, 3)]);
    f.truncate_to(Offset(3)).unwrap();
    assert_eq!(epochs(f), vec![(1, 0)], "the empty epoch is gone");
    assert_eq!(
        epoch_file(&p.follower_dir),
        vec![(1, 0)],
        "and from the checkpoint"
    );
    assert_eq!(f.log_end_offset(), Offset(3), "no batch cut");
    // An epoch with batches is kept by a truncation at the end.
    f.assign_epoch_start(LeaderEpoch(4)).unwrap();
    f.append(simple(1), LeaderEpoch(4)).unwrap();
    f.truncate_to(Offset(4)).unwrap();
    assert_eq!(epochs(f), vec![(1, 0), (4, 3)]);
}

#[test]
fn truncate_fully_starts_an_empty_log_at_the_offset() {
    let settings = small_settings(300);
    let p = pair(settings.clone(), settings.clone());
    for i in 0..12 {
        p.leader.append(idem(7, 0, i * 2, 2), E1).unwrap();
    }
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    assert!(f.segment_count() > 1);
    f.truncate_fully_and_start_at(Offset(100)).unwrap();
    assert_eq!(
        (f.log_start_offset(), f.log_end_offset(), f.recovery_point()),
        (Offset(100), Offset(100), Offset(100))
    );
    assert!(f.leader_epochs().is_empty());
    assert!(epoch_file(&p.follower_dir).is_empty());
    assert_eq!(
        log_files(&p.follower_dir),
        vec!["00000000000000000100.log".to_string()]
    );
    assert_eq!(f.segment_count(), 1);
    assert!(matches!(
        f.read(Offset(0), 1 << 20, Offset(i64::MAX), true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(
        f.read(Offset(100), 1 << 20, Offset(i64::MAX), true)
            .unwrap()
            .records
            .is_empty()
    );
    assert!(matches!(
        f.append_replicated(stored_batch(0, 1, 1)),
        Err(LogError::OutOfOrderReplica {
            expected: 100,
            got: 0
        })
    ));
    f.append_replicated(stored_batch(100, 6, 2)).unwrap();
    assert_eq!(epochs(f), vec![(6, 100)]);
    // Producer state is gone: a batch producer 7 had written is new now.
    assert!(
        !f.append(idem(7, 0, 0, 2), LeaderEpoch(6))
            .unwrap()
            .duplicate
    );
    assert!(matches!(
        f.truncate_fully_and_start_at(Offset(-1)),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let expected = shape(f);
    let Pair {
        follower,
        follower_dir,
        clock,
        ..
    } = p;
    drop(follower);
    let f = open(&follower_dir, settings, &clock, Some(0));
    assert_eq!(shape(&f), expected);
    assert!(
        f.append(idem(7, 0, 0, 2), LeaderEpoch(6))
            .unwrap()
            .duplicate
    );
}

#[test]
fn replicated_append_into_empty_log_whose_start_is_inside_the_first_batch() {
    let p = pair(small_settings(1 << 20), small_settings(1 << 20));
    let f = &p.follower;
    // The leader's log start (DeleteRecords) is 11, inside its batch 10..=12.
    f.truncate_fully_and_start_at(Offset(11)).unwrap();
    let r = f
        .append_replicated(concat(&[stored_batch(10, 2, 3), stored_batch(13, 2, 1)]))
        .unwrap();
    assert_eq!((r.base_offset.0, r.last_offset.0), (10, 13));
    assert_eq!(
        (f.log_start_offset(), f.log_end_offset()),
        (Offset(11), Offset(14))
    );
    assert_eq!(
        log_files(&p.follower_dir),
        vec!["00000000000000000010.log".to_string()]
    );
    assert_eq!(epochs(f), vec![(2, 10)]);
    // Not empty any more: an overlapping batch is refused.
    assert!(matches!(
        f.append_replicated(stored_batch(12, 2, 3)),
        Err(LogError::OutOfOrderReplica { .. })
    ));
}

#[test]
fn assign_epoch_start_is_recorded_persisted_and_consistent_with_append() {
    let settings = small_settings(1 << 20);
    let p = pair(settings.clone(), settings.clone());
    p.leader.append(simple(3), E1).unwrap();
    replicate(&p.leader, &p.follower);
    let f = &p.follower;
    f.assign_epoch_start(LeaderEpoch(0)).unwrap();
    f.assign_epoch_start(E1).unwrap();
    assert_eq!(epochs(f), vec![(1, 0)], "not greater: no-op");
    f.assign_epoch_start(LeaderEpoch(4)).unwrap();
    assert_eq!(epochs(f), vec![(1, 0), (4, 3)]);
    assert_eq!(
        epoch_file(&p.follower_dir),
        vec![(1, 0), (4, 3)],
        "written at once"
    );
    // An epoch that got no batch is replaced by the next one starting at the same offset.
    f.assign_epoch_start(LeaderEpoch(5)).unwrap();
    assert_eq!(epochs(f), vec![(1, 0), (5, 3)]);
    // Appends in that epoch add nothing; a later epoch in a batch does.
    f.append(simple(2), LeaderEpoch(5)).unwrap();
    assert_eq!(epochs(f), vec![(1, 0), (5, 3)]);
    f.assign_epoch_start(LeaderEpoch(7)).unwrap();
    assert_eq!(epochs(f), vec![(1, 0), (5, 3), (7, 5)]);
    let Pair {
        follower,
        follower_dir,
        clock,
        ..
    } = p;
    drop(follower); // unclean: no flush, no close
    let f = open(&follower_dir, settings.clone(), &clock, Some(0));
    assert_eq!(epochs(&f), vec![(1, 0), (5, 3), (7, 5)]);
    f.close().unwrap();
    drop(f);
    let f = open(&follower_dir, settings, &clock, None);
    assert_eq!(epochs(&f), vec![(1, 0), (5, 3), (7, 5)]);
    f.append(simple(1), LeaderEpoch(7)).unwrap();
    assert_eq!(epochs(&f), vec![(1, 0), (5, 3), (7, 5)]);
}

#[test]
fn open_merges_a_stale_epoch_file_with_the_batches_and_drops_lost_entries() {
    let settings = small_settings(1 << 20);
    let p = pair(settings.clone(), settings.clone());
    let f = &p.follower;
    f.append_replicated(concat(&[stored_batch(0, 1, 2), stored_batch(2, 2, 2)]))
        .unwrap();
    let Pair {
        follower,
        follower_dir,
        clock,
        ..
    } = p;
    drop(follower);
    // A file that missed epoch 2 (never flushed) and names an epoch past the log end (its
    // batches were lost to the crash).
    checkpoint::write_leader_epoch_checkpoint(&follower_dir, &[(1, 0), (9, 10)]).unwrap();
    let f = open(&follower_dir, settings.clone(), &clock, Some(0));
    assert_eq!(epochs(&f), vec![(1, 0), (2, 2)]);
    assert_eq!(epoch_file(&follower_dir), vec![(1, 0), (2, 2)]);
    drop(f);
    std::fs::write(
        follower_dir.join(checkpoint::LEADER_EPOCH_CHECKPOINT),
        "garbage",
    )
    .unwrap();
    let f = open(&follower_dir, settings, &clock, None);
    assert_eq!(epochs(&f), vec![(1, 0), (2, 2)], "rebuilt from the batches");
}

#[test]
fn concurrent_readers_never_get_truncated_bytes() {
    let settings = small_settings(2_000);
    let p = pair(settings.clone(), settings);
    let f = Arc::new(p.follower);
    let stop = Arc::new(AtomicBool::new(false));
    let base = 20i64;
    f.append_replicated(stored_batch(0, 1, base as usize))
        .unwrap();
    let reader = {
        let (f, stop) = (f.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = match f.read(Offset(base), 1 << 20, Offset(i64::MAX), true) {
                    Ok(r) => r,
                    Err(LogError::OffsetOutOfRange { .. }) => continue,
                    Err(e) => panic!("read failed: {e}"),
                };
                // Whole, valid batches from `base` on, each of one round (one epoch) only.
                let mut next = base;
                let mut epoch = None;
                for b in BatchIter::new(&r.records) {
                    let b = b.unwrap();
                    batch::verify_crc(&r.records[b.range.clone()]).unwrap();
                    assert_eq!(b.header.base_offset, next);
                    assert!(epoch.is_none_or(|e| e == b.header.partition_leader_epoch));
                    epoch = Some(b.header.partition_leader_epoch);
                    next = b.header.next_offset();
                }
                reads += 1;
            }
            reads
        })
    };
    for round in 0..300i32 {
        f.truncate_to(Offset(base)).unwrap();
        // Each round writes batches of another size, so old positions fall mid-batch.
        let size = 1 + (round % 4) as usize;
        let mut parts = Vec::new();
        let mut at = base;
        for _ in 0..8 {
            parts.push(stored_batch(at, round + 2, size));
            at += size as i64;
        }
        f.append_replicated(concat(&parts)).unwrap();
        if round % 50 == 0 {
            f.truncate_fully_and_start_at(Offset(0)).unwrap();
            f.append_replicated(stored_batch(0, round + 2, base as usize))
                .unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
}
