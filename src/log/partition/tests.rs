//! Tests of `PartitionLog` with a manual clock and temporary directories.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::clock::ManualClock;
use crate::log::batch::{BatchIter, verify_crc};
use crate::log::test_util::{TestBatch, manual_clock, simple, small_settings};

const E0: LeaderEpoch = LeaderEpoch(0);

pub(super) fn open(
    dir: &Path,
    settings: TopicSettings,
    clock: &SharedClock,
    recover: Option<i64>,
) -> PartitionLog {
    PartitionLog::open(
        dir,
        TopicId([9; 16]),
        settings,
        clock.clone(),
        recover.map(Offset),
    )
    .unwrap()
}

pub(super) fn setup(
    settings: TopicSettings,
) -> (
    tempfile::TempDir,
    PathBuf,
    Arc<ManualClock>,
    SharedClock,
    PartitionLog,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let (c, clock) = manual_clock(1_000_000);
    let log = open(&dir, settings, &clock, None);
    (tmp, dir, c, clock, log)
}

/// Offsets (base, last) of every batch in `records`, checking CRCs.
pub(super) fn batches(records: &[u8]) -> Vec<(i64, i64)> {
    BatchIter::new(records)
        .map(|b| {
            let b = b.unwrap();
            verify_crc(&records[b.range.clone()]).unwrap();
            (b.header.base_offset, b.header.last_offset())
        })
        .collect()
}

pub(super) fn read_all(log: &PartitionLog) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = log.log_start_offset();
    let end = log.log_end_offset();
    while at < end {
        let r = log.read(at, 1 << 20, Offset(i64::MAX), true).unwrap();
        let b = batches(&r.records);
        assert!(!b.is_empty(), "no progress at {at:?}");
        at = Offset(b.last().unwrap().1 + 1);
        out.extend(b);
    }
    out
}

pub(super) fn log_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

#[test]
fn append_and_read_across_segment_rolls() {
    let (_t, dir, _c, _clock, log) = setup(small_settings(300));
    let mut expected = Vec::new();
    for i in 0..20 {
        let n = 1 + i % 3;
        let r = log.append(simple(n), E0).unwrap();
        assert!(!r.duplicate);
        assert_eq!(r.log_append_time_ms, -1);
        assert_eq!(r.last_offset.0 - r.base_offset.0, n as i64 - 1);
        expected.push((r.base_offset.0, r.last_offset.0));
    }
    assert_eq!(expected[0].0, 0);
    assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
    assert_eq!(log_files(&dir).len(), log.segment_count());
    assert!(log_files(&dir).contains(&"00000000000000000000.log".to_string()));
    assert_eq!(read_all(&log), expected);
    // Each segment stays within segment.bytes.
    for f in log_files(&dir) {
        assert!(std::fs::metadata(dir.join(f)).unwrap().len() <= 300);
    }
    assert_eq!(log.log_end_offset().0, expected.last().unwrap().1 + 1);
}

#[test]
fn reads_at_every_offset_and_mid_batch() {
    let (_t, _d, _c, _clock, log) = setup(small_settings(500));
    let mut spans = Vec::new();
    for i in 0..15 {
        let r = log.append(simple(1 + i % 4), E0).unwrap();
        spans.push((r.base_offset.0, r.last_offset.0));
    }
    let end = log.log_end_offset().0;
    for off in 0..end {
        let r = log
            .read(Offset(off), 1 << 20, Offset(i64::MAX), false)
            .unwrap();
        let b = batches(&r.records);
        let holding = spans.iter().find(|(b, l)| *b <= off && off <= *l).unwrap();
        assert_eq!(b.first(), Some(holding), "offset {off}");
        assert_eq!(r.log_end_offset.0, end);
    }
    // At the log end: empty, not an error.
    assert!(
        log.read(Offset(end), 1000, Offset(i64::MAX), true)
            .unwrap()
            .records
            .is_empty()
    );
    assert!(matches!(
        log.read(Offset(end + 1), 1000, Offset(i64::MAX), true),
        Err(LogError::OffsetOutOfRange { requested, log_start: 0, log_end }) if requested == end + 1 && log_end == end
    ));
    assert!(matches!(
        log.read(Offset(-1), 1000, Offset(i64::MAX), true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn max_bytes_trimming_min_one_batch_and_max_offset() {
    let (_t, _d, _c, _clock, log) = setup(small_settings(1 << 20));
    let one = simple(1);
    let size = one.len();
    for _ in 0..10 {
        log.append(simple(1), E0).unwrap();
    }
    let r = log
        .read(Offset(0), size * 3 + size / 2, Offset(i64::MAX), false)
        .unwrap();
    assert_eq!(batches(&r.records).len(), 3);
    assert_eq!(r.records.len(), size * 3);
    // Smaller than one batch.
    assert!(
        log.read(Offset(0), size - 1, Offset(i64::MAX), false)
            .unwrap()
            .records
            .is_empty()
    );
    let r = log
        .read(Offset(2), size - 1, Offset(i64::MAX), true)
        .unwrap();
    assert_eq!(batches(&r.records), vec![(2, 2)]);
    // High-watermark bound.
    let r = log.read(Offset(0), 1 << 20, Offset(4), true).unwrap();
    assert_eq!(batches(&r.records), vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    assert!(
        log.read(Offset(4), 1 << 20, Offset(4), true)
            .unwrap()
            .records
            .is_empty()
    );
    // A large batch alone.
    let big = TestBatch {
        records: 5,
        value_bytes: 1000,
        ..Default::default()
    }
    .build();
    let r = log.append(big.clone(), E0).unwrap();
    let rr = log
        .read(r.base_offset, 100, Offset(i64::MAX), true)
        .unwrap();
    assert_eq!(rr.records.len(), big.len());
    // Bytes on disk are the client's bytes except base offset and leader epoch.
    assert_eq!(&rr.records[16..], &big[16..]);
}

#[test]
fn offset_index_and_time_index_lookups() {
    let (_t, dir, _c, _clock, log) = setup(small_settings(1 << 20)); // index every 100 bytes
    for i in 0..50 {
        let b = TestBatch {
            records: 2,
            base_timestamp_ms: 10_000 + i * 100,
            timestamp_step_ms: 10,
            ..Default::default()
        };
        log.append(b.build(), E0).unwrap();
    }
    let idx = std::fs::read(dir.join("00000000000000000000.index")).unwrap();
    let entries = crate::log::index::decode_offset_entries(&idx).unwrap();
    assert!(entries.len() > 10);
    // Entries point at batch starts whose last offset is the entry's offset.
    let whole = log
        .read(Offset(0), 1 << 20, Offset(i64::MAX), true)
        .unwrap()
        .records;
    for (rel, pos) in &entries {
        let h = BatchHeader::parse(&whole[*pos as usize..]).unwrap();
        assert_eq!(h.last_offset(), i64::from(*rel));
    }
    let tidx = std::fs::read(dir.join("00000000000000000000.timeindex")).unwrap();
    let tentries = crate::log::index::decode_time_entries(&tidx).unwrap();
    assert_eq!(tentries.len(), 50);
    assert_eq!(tentries[3], (10_310, 7));

    // Batch i has max ts 10_000 + i*100 + 10.
    let b = log
        .batch_for_timestamp(10_000 + 7 * 100 + 5)
        .unwrap()
        .unwrap();
    assert_eq!(BatchHeader::parse(&b).unwrap().base_offset, 14);
    let b = log.batch_for_timestamp(0).unwrap().unwrap();
    assert_eq!(BatchHeader::parse(&b).unwrap().base_offset, 0);
    let b = log
        .batch_for_timestamp(10_000 + 49 * 100 + 10)
        .unwrap()
        .unwrap();
    assert_eq!(BatchHeader::parse(&b).unwrap().base_offset, 98);
    assert!(
        log.batch_for_timestamp(10_000 + 49 * 100 + 11)
            .unwrap()
            .is_none()
    );
    verify_crc(&b).unwrap();
    let m = log.batch_with_max_timestamp().unwrap().unwrap();
    assert_eq!(BatchHeader::parse(&m).unwrap().base_offset, 98);
}

#[test]
fn timestamp_lookups_across_segments_and_out_of_order_timestamps() {
    let (_t, _d, _c, _clock, log) = setup(small_settings(250));
    let ts = [500, 100, 900, 300, 700, 2000, 50, 1000];
    for t in ts {
        log.append(
            TestBatch {
                base_timestamp_ms: t,
                ..Default::default()
            }
            .build(),
            E0,
        )
        .unwrap();
    }
    assert!(log.segment_count() > 2);
    let base_of = |b: Bytes| BatchHeader::parse(&b).unwrap().base_offset;
    assert_eq!(base_of(log.batch_for_timestamp(600).unwrap().unwrap()), 2);
    assert_eq!(base_of(log.batch_for_timestamp(1500).unwrap().unwrap()), 5);
    assert_eq!(base_of(log.batch_for_timestamp(400).unwrap().unwrap()), 0);
    assert_eq!(base_of(log.batch_with_max_timestamp().unwrap().unwrap()), 5);
    let (_t2, _d2, _c2, _clock2, empty) = setup(small_settings(250));
    assert!(empty.batch_with_max_timestamp().unwrap().is_none());
    assert!(empty.batch_for_timestamp(0).unwrap().is_none());
}

#[test]
fn rolls_by_segment_ms() {
    let settings = TopicSettings {
        segment_ms: 60_000,
        ..small_settings(1 << 20)
    };
    let (_t, dir, c, _clock, log) = setup(settings);
    log.append(simple(1), E0).unwrap();
    c.advance_ms(30_000);
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.segment_count(), 1);
    c.advance_ms(30_001);
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(log_files(&dir)[1], "00000000000000000002.log");
    assert_eq!(read_all(&log).len(), 3);
}

#[test]
fn rolls_when_index_is_full() {
    let settings = TopicSettings {
        segment_index_bytes: 24,
        index_interval_bytes: 0,
        ..small_settings(1 << 20)
    };
    let (_t, _d, _c, _clock, log) = setup(settings);
    for _ in 0..10 {
        log.append(simple(1), E0).unwrap();
    }
    assert!(log.segment_count() >= 3, "{}", log.segment_count());
    assert_eq!(read_all(&log).len(), 10);
}

fn fill(log: &PartitionLog, n: usize) -> Vec<(i64, i64)> {
    (0..n)
        .map(|i| {
            let r = log.append(simple(1 + i % 2), E0).unwrap();
            (r.base_offset.0, r.last_offset.0)
        })
        .collect()
}

#[test]
fn recovery_truncates_torn_tail() {
    let (_t, dir, _c, clock, log) = setup(small_settings(400));
    let spans = fill(&log, 12);
    drop(log);
    let last_file = dir.join(log_files(&dir).last().unwrap());
    let len = std::fs::metadata(&last_file).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last_file)
        .unwrap();
    f.set_len(len - 7).unwrap();
    drop(f);
    let log = open(&dir, small_settings(400), &clock, Some(0));
    let (last_base, _) = *spans.last().unwrap();
    assert_eq!(log.log_end_offset().0, last_base);
    assert_eq!(read_all(&log), spans[..spans.len() - 1].to_vec());
    let r = log.append(simple(1), E0).unwrap();
    assert_eq!(r.base_offset.0, last_base);
}

#[test]
fn clean_open_still_cuts_torn_tail() {
    let (_t, dir, _c, clock, log) = setup(small_settings(1 << 20));
    let spans = fill(&log, 5);
    log.close().unwrap();
    drop(log);
    let file = dir.join("00000000000000000000.log");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let log = open(&dir, small_settings(1 << 20), &clock, None);
    assert_eq!(log.log_end_offset().0, spans[4].0);
}

#[test]
fn recovery_truncates_at_corrupt_batch_and_drops_later_segments() {
    let (_t, dir, _c, clock, log) = setup(small_settings(400));
    let spans = fill(&log, 12);
    let seg_count = log.segment_count();
    drop(log);
    // Flip the last byte of the last batch.
    let files = log_files(&dir);
    let last_file = dir.join(files.last().unwrap());
    let mut bytes = std::fs::read(&last_file).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x55;
    std::fs::write(&last_file, &bytes).unwrap();
    let log = open(&dir, small_settings(400), &clock, Some(0));
    let (last_base, _) = *spans.last().unwrap();
    assert_eq!(log.log_end_offset().0, last_base);
    assert_eq!(read_all(&log), spans[..spans.len() - 1].to_vec());
    assert_eq!(log.append(simple(1), E0).unwrap().base_offset.0, last_base);
    drop(log);

    // Corrupt a batch in the first segment: everything after goes.
    let first_file = dir.join(&files[0]);
    let mut bytes = std::fs::read(&first_file).unwrap();
    let first_size = BatchHeader::parse(&bytes).unwrap().total_size_bytes();
    bytes[first_size + 30] ^= 0x01;
    std::fs::write(&first_file, &bytes).unwrap();
    let log = open(&dir, small_settings(400), &clock, Some(0));
    assert_eq!(log.log_end_offset().0, spans[1].0);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log_files(&dir).len(), 1);
    assert!(seg_count > 1);
}

#[test]
fn recovery_from_point_skips_older_segments_and_unclean_index_rebuild() {
    let (_t, dir, _c, clock, log) = setup(small_settings(400));
    let spans = fill(&log, 12);
    drop(log);
    // Garbage index files are rebuilt.
    std::fs::write(dir.join("00000000000000000000.index"), b"garbage").unwrap();
    let log = open(&dir, small_settings(400), &clock, Some(spans[10].0));
    assert_eq!(read_all(&log), spans);
    let idx = std::fs::read(dir.join("00000000000000000000.index")).unwrap();
    assert!(crate::log::index::decode_offset_entries(&idx).is_some());
}

#[test]
fn clean_reopen_keeps_everything() {
    let (_t, dir, _c, clock, log) = setup(small_settings(400));
    let spans = fill(&log, 12);
    let segs = log.segment_count();
    let idx_before = std::fs::read(dir.join("00000000000000000000.index")).unwrap();
    log.close().unwrap();
    assert!(matches!(log.append(simple(1), E0), Err(LogError::Closed)));
    drop(log);
    let log = open(&dir, small_settings(400), &clock, None);
    assert_eq!(log.segment_count(), segs);
    assert_eq!(read_all(&log), spans);
    assert_eq!(log.recovery_point(), log.log_end_offset());
    assert_eq!(
        std::fs::read(dir.join("00000000000000000000.index")).unwrap(),
        idx_before
    );
    let r = log.append(simple(1), E0).unwrap();
    assert_eq!(r.base_offset.0, spans.last().unwrap().1 + 1);
}

#[test]
fn retention_by_time() {
    let settings = TopicSettings {
        retention_ms: 10_000,
        ..small_settings(300)
    };
    let (_t, dir, c, _clock, log) = setup(settings);
    // Record timestamps follow the clock.
    for i in 0..12 {
        let b = TestBatch {
            base_timestamp_ms: 1_000_000 + i * 1_000,
            ..Default::default()
        };
        log.append(b.build(), E0).unwrap();
    }
    let segs = log.segment_count();
    assert!(segs >= 3);
    assert_eq!(log.apply_retention().unwrap(), 0);
    c.set_ms(1_000_000 + 5_000 + 10_000);
    let deleted = log.apply_retention().unwrap();
    assert!(deleted >= 1);
    let start = log.log_start_offset();
    assert!(start.0 > 0);
    assert!(matches!(
        log.read(Offset(0), 1000, Offset(i64::MAX), true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log).first().unwrap().0, start.0);
    assert_eq!(log_files(&dir).len(), segs - deleted);
    // Everything expired: an empty active segment remains at the log end.
    c.set_ms(1_000_000 + 100_000);
    log.apply_retention().unwrap();
    let end = log.log_end_offset();
    assert_eq!(log.log_start_offset(), end);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log_files(&dir), vec![format!("{:020}.log", end.0)]);
    assert!(
        log.read(end, 1000, Offset(i64::MAX), true)
            .unwrap()
            .records
            .is_empty()
    );
    let r = log.append(simple(1), E0).unwrap();
    assert_eq!(r.base_offset, end);
    assert_eq!(r.log_start_offset, end);
}

#[test]
fn retention_by_size() {
    let settings = TopicSettings {
        retention_bytes: 500,
        ..small_settings(300)
    };
    let (_t, _d, _c, _clock, log) = setup(settings);
    fill(&log, 20);
    let before = log.segment_count();
    let deleted = log.apply_retention().unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_count(), before - deleted);
    assert!(log.size_bytes() >= 500 - 300 || log.segment_count() == 1);
    assert!(log.size_bytes() < 500 + 300);
    let start = log.log_start_offset();
    assert!(start.0 > 0);
    assert!(matches!(
        log.read(Offset(start.0 - 1), 1000, Offset(i64::MAX), true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(
        !log.read(start, 1000, Offset(i64::MAX), true)
            .unwrap()
            .records
            .is_empty()
    );
    assert_eq!(log.apply_retention().unwrap(), 0);
}

#[test]
fn bad_crc_is_corrupt_and_writes_nothing() {
    let (_t, dir, _c, _clock, log) = setup(small_settings(1 << 20));
    log.append(simple(1), E0).unwrap();
    let good = simple(2);
    let mut bad = simple(2).to_vec();
    let n = bad.len();
    bad[n - 2] ^= 0xff;
    let mut both = good.to_vec();
    both.extend_from_slice(&bad);
    let size_before = std::fs::metadata(dir.join("00000000000000000000.log"))
        .unwrap()
        .len();
    assert!(matches!(
        log.append(Bytes::from(both), E0),
        Err(LogError::Corrupt(_))
    ));
    assert!(matches!(
        log.append(Bytes::from(bad), E0),
        Err(LogError::Corrupt(_))
    ));
    let mut truncated = good.to_vec();
    truncated.truncate(good.len() - 1);
    assert!(matches!(
        log.append(Bytes::from(truncated), E0),
        Err(LogError::Corrupt(_))
    ));
    assert!(matches!(
        log.append(Bytes::new(), E0),
        Err(LogError::Corrupt(_))
    ));
    let mut magic1 = good.to_vec();
    magic1[16] = 1;
    assert!(matches!(
        log.append(Bytes::from(magic1), E0),
        Err(LogError::Corrupt(_))
    ));
    let zero = TestBatch {
        records: 0,
        ..Default::default()
    }
    .build();
    assert!(matches!(log.append(zero, E0), Err(LogError::Corrupt(_))));
    assert_eq!(
        std::fs::metadata(dir.join("00000000000000000000.log"))
            .unwrap()
            .len(),
        size_before
    );
    assert_eq!(log.log_end_offset(), Offset(1));
}

#[test]
fn oversized_batch_is_rejected() {
    let settings = TopicSettings {
        max_message_bytes: 200,
        ..small_settings(1 << 20)
    };
    let (_t, _d, _c, _clock, log) = setup(settings);
    let big = TestBatch {
        value_bytes: 300,
        ..Default::default()
    }
    .build();
    let size = big.len();
    assert!(matches!(
        log.append(big, E0),
        Err(LogError::MessageTooLarge { size_bytes, max_bytes: 200 }) if size_bytes == size
    ));
    assert_eq!(log.log_end_offset(), Offset(0));
}

pub(super) fn idem(pid: i64, epoch: i16, seq: i32, records: usize) -> Bytes {
    TestBatch {
        records,
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..Default::default()
    }
    .build()
}

#[test]
fn idempotent_producer_rules_and_reopen() {
    let (_t, dir, _c, clock, log) = setup(small_settings(300));
    log.append(simple(3), E0).unwrap(); // offsets 0..=2, not idempotent
    let a = log.append(idem(7, 0, 0, 2), E0).unwrap();
    assert_eq!((a.base_offset.0, a.last_offset.0), (3, 4));
    let b = log.append(idem(7, 0, 2, 3), E0).unwrap();
    assert_eq!((b.base_offset.0, b.last_offset.0), (5, 7));
    // Retry of the first batch: original offsets, nothing written.
    let dup = log.append(idem(7, 0, 0, 2), E0).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset.0, dup.last_offset.0), (3, 4));
    assert_eq!(log.log_end_offset(), Offset(8));
    assert!(matches!(
        log.append(idem(7, 0, 9, 1), E0),
        Err(LogError::OutOfOrderSequence {
            producer_id: 7,
            expected: 5,
            got: 9
        })
    ));
    assert!(matches!(
        log.append(idem(7, -1, 5, 1), E0),
        Err(LogError::InvalidProducerEpoch {
            producer_id: 7,
            current: 0,
            got: -1
        })
    ));
    assert_eq!(log.log_end_offset(), Offset(8));
    // Unknown producer: any sequence.
    log.append(idem(8, 3, 42, 1), E0).unwrap();
    drop(log);

    for recover in [None, Some(0)] {
        let log = open(&dir, small_settings(300), &clock, recover);
        let dup = log.append(idem(7, 0, 2, 3), E0).unwrap();
        assert!(dup.duplicate);
        assert_eq!((dup.base_offset.0, dup.last_offset.0), (5, 7));
        assert!(matches!(
            log.append(idem(7, 0, 6, 1), E0),
            Err(LogError::OutOfOrderSequence { expected: 5, .. })
        ));
        assert!(matches!(
            log.append(idem(8, 3, 44, 1), E0),
            Err(LogError::OutOfOrderSequence { expected: 43, .. })
        ));
    }
    let log = open(&dir, small_settings(300), &clock, None);
    // A new epoch starts at 0.
    assert!(matches!(
        log.append(idem(7, 1, 5, 1), E0),
        Err(LogError::OutOfOrderSequence { expected: 0, .. })
    ));
    assert!(!log.append(idem(7, 1, 0, 1), E0).unwrap().duplicate);
}

#[test]
fn log_append_time_rewrites_max_timestamp() {
    let settings = TopicSettings {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..small_settings(1 << 20)
    };
    let (_t, _d, c, _clock, log) = setup(settings);
    c.set_ms(5_555_555);
    let sent = TestBatch {
        records: 3,
        base_timestamp_ms: 42,
        ..Default::default()
    }
    .build();
    let r = log.append(sent.clone(), LeaderEpoch(4)).unwrap();
    assert_eq!(r.log_append_time_ms, 5_555_555);
    let got = log
        .read(Offset(0), 1 << 20, Offset(i64::MAX), true)
        .unwrap()
        .records;
    verify_crc(&got).unwrap();
    let h = BatchHeader::parse(&got).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 5_555_555);
    assert_eq!(h.base_timestamp, 42);
    assert_eq!(h.partition_leader_epoch, 4);
    assert_eq!(&got[61..], &sent[61..]);
    assert_eq!(log.batch_with_max_timestamp().unwrap().unwrap(), got);
}

#[test]
fn offsets_and_leader_epoch_are_patched_outside_the_crc() {
    let (_t, dir, _c, _clock, log) = setup(small_settings(1 << 20));
    log.append(simple(2), LeaderEpoch(3)).unwrap();
    let sent = TestBatch {
        base_offset: 999,
        ..Default::default()
    }
    .build();
    log.append(sent.clone(), LeaderEpoch(5)).unwrap();
    let got = log
        .read(Offset(2), 1 << 20, Offset(i64::MAX), true)
        .unwrap()
        .records;
    let h = BatchHeader::parse(&got).unwrap();
    assert_eq!((h.base_offset, h.partition_leader_epoch), (2, 5));
    verify_crc(&got).unwrap();
    assert_eq!(
        log.leader_epochs(),
        vec![(LeaderEpoch(3), Offset(0)), (LeaderEpoch(5), Offset(2))]
    );
    // The checkpoint file is written by the next flush, never on the append path.
    let lec = std::fs::read_to_string(dir.join("leader-epoch-checkpoint")).unwrap();
    assert_eq!(lec, "0\n0\n");
    log.flush_rolled().unwrap();
    let lec = std::fs::read_to_string(dir.join("leader-epoch-checkpoint")).unwrap();
    assert_eq!(lec, "0\n2\n3 0\n5 2\n");
}

#[test]
fn multi_batch_append_is_all_or_nothing() {
    let (_t, _d, _c, _clock, log) = setup(small_settings(1 << 20));
    let mut two = idem(1, 0, 0, 2).to_vec();
    two.extend_from_slice(&idem(1, 0, 2, 2));
    let r = log.append(Bytes::from(two), E0).unwrap();
    assert_eq!((r.base_offset.0, r.last_offset.0), (0, 3));
    let mut gap = idem(1, 0, 4, 1).to_vec();
    gap.extend_from_slice(&idem(1, 0, 9, 1));
    assert!(matches!(
        log.append(Bytes::from(gap), E0),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    assert_eq!(log.log_end_offset(), Offset(4));
    assert!(!log.append(idem(1, 0, 4, 1), E0).unwrap().duplicate);
}

#[test]
fn flush_messages_and_flush_ms_advance_recovery_point() {
    let settings = TopicSettings {
        flush_messages: 3,
        ..small_settings(1 << 20)
    };
    let (_t, _d, _c, _clock, log) = setup(settings);
    log.append(simple(2), E0).unwrap();
    assert_eq!(log.recovery_point(), Offset(0));
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.recovery_point(), Offset(3));

    let settings = TopicSettings {
        flush_ms: 1_000,
        ..small_settings(1 << 20)
    };
    let (_t2, _d2, c, _clock2, log) = setup(settings);
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.recovery_point(), Offset(0));
    c.advance_ms(1_000);
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.recovery_point(), Offset(2));
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.flush().unwrap(), Offset(3));
}

#[test]
fn flush_rolled_syncs_up_to_the_active_segment_and_flush_if_due_waits_for_flush_ms() {
    let (_t, _d, _c, _clock, log) = setup(small_settings(300));
    for _ in 0..20 {
        log.append(simple(1), E0).unwrap();
    }
    assert!(log.segment_count() > 2, "small segments rolled");
    assert_eq!(log.recovery_point(), Offset(0), "nothing synced by default");
    let rp = log.flush_rolled().unwrap();
    assert!(
        rp.0 > 0 && rp.0 < 20,
        "up to the active segment's base offset: {rp:?}"
    );
    assert_eq!(log.recovery_point(), rp);

    let settings = TopicSettings {
        flush_ms: 1_000,
        ..small_settings(1 << 20)
    };
    let (_t2, _d2, c, _clock2, log) = setup(settings);
    assert_eq!(log.flush_if_due().unwrap(), None, "nothing to flush");
    log.append(simple(1), E0).unwrap();
    assert_eq!(log.flush_if_due().unwrap(), None, "flush.ms not yet passed");
    c.advance_ms(1_000);
    assert_eq!(log.flush_if_due().unwrap(), Some(Offset(1)));
}

#[test]
fn concurrent_reader_never_sees_torn_batch() {
    let (_t, _d, _c, _clock, log) = setup(small_settings(4_000));
    let log = Arc::new(log);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let log = log.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut next = 0i64;
            let mut reads = 0u64;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let r = log.read(Offset(next), 700, Offset(i64::MAX), true).unwrap();
                for b in BatchIter::new(&r.records) {
                    let b = b.unwrap();
                    verify_crc(&r.records[b.range.clone()]).unwrap();
                    assert!(
                        b.header.base_offset <= next && next <= b.header.last_offset()
                            || b.header.base_offset == next
                    );
                    next = b.header.last_offset() + 1;
                }
                reads += 1;
                if finished && next == log.log_end_offset().0 {
                    return (next, reads);
                }
            }
        })
    };
    for i in 0..400 {
        log.append(
            TestBatch {
                records: 1 + i % 5,
                value_bytes: 50 + i % 70,
                ..Default::default()
            }
            .build(),
            E0,
        )
        .unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let (next, reads) = reader.join().unwrap();
    assert_eq!(next, log.log_end_offset().0);
    assert!(reads > 0);
}

#[test]
fn partition_metadata_written_and_checked() {
    let (_t, dir, _c, clock, log) = setup(small_settings(1 << 20));
    let text = std::fs::read_to_string(dir.join("partition.metadata")).unwrap();
    assert_eq!(
        text,
        format!(
            "version: 0\ntopic_id: {}\n",
            checkpoint::topic_id_to_string(&TopicId([9; 16]))
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("leader-epoch-checkpoint")).unwrap(),
        "0\n0\n"
    );
    assert_eq!(log.topic_id(), TopicId([9; 16]));
    drop(log);
    let err = PartitionLog::open(
        &dir,
        TopicId([1; 16]),
        small_settings(1 << 20),
        clock.clone(),
        None,
    );
    assert!(matches!(err, Err(LogError::InconsistentTopicId { .. })));
    let log = open(&dir, small_settings(1 << 20), &clock, None);
    log.delete().unwrap();
    assert!(!dir.exists());
}

#[test]
fn retention_by_time_without_record_timestamps_uses_append_time() {
    let settings = TopicSettings {
        retention_ms: 10_000,
        ..small_settings(200)
    };
    let (_t, _d, c, _clock, log) = setup(settings);
    for _ in 0..6 {
        log.append(
            TestBatch {
                base_timestamp_ms: -1,
                timestamp_step_ms: 0,
                ..Default::default()
            }
            .build(),
            E0,
        )
        .unwrap();
    }
    assert!(log.segment_count() > 1);
    assert_eq!(log.apply_retention().unwrap(), 0);
    c.advance_ms(10_001);
    assert!(log.apply_retention().unwrap() > 0);
    assert_eq!(log.log_start_offset(), log.log_end_offset());
}

#[test]
fn drop_behind_leaves_rolled_segments_out_of_the_page_cache_and_reads_stay_exact() {
    let settings = TopicSettings {
        segment_bytes: 4 << 20,
        drop_behind_bytes: 1 << 20,
        ..small_settings(0)
    };
    // On the project's file system: tmpfs ignores page-cache advice and refuses O_DIRECT.
    let _t = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let dir = _t.path().join("t-0");
    let (_c, clock) = manual_clock(1_000_000);
    let log = open(&dir, settings.clone(), &clock, None);
    let mut expected = Vec::new();
    for i in 0..1200usize {
        let b = TestBatch {
            records: 1 + i % 16,
            value_bytes: 1000,
            ..Default::default()
        }
        .build();
        let r = log.append(b, E0).unwrap();
        expected.push((r.base_offset.0, r.last_offset.0));
    }
    assert!(
        log.segment_count() >= 3,
        "segments: {}",
        log.segment_count()
    );
    log.flush_rolled().unwrap();
    #[cfg(target_os = "linux")]
    {
        let files = log_files(&dir);
        for name in &files[..files.len() - 1] {
            let f = std::fs::File::open(dir.join(name)).unwrap();
            let len = f.metadata().unwrap().len();
            let cached = crate::log::page_cache::resident_bytes(&f, len).unwrap();
            assert!(
                cached <= 16 * 1024,
                "{name}: {cached} of {len} bytes still cached"
            );
        }
    }
    // Sequential reads (direct, then read ahead) and reads from every tenth offset.
    assert_eq!(read_all(&log), expected);
    let (direct, hits) = log.read_path_counts();
    eprintln!("sequential pass: {direct} direct reads, {hits} read ahead");
    assert!(
        direct > 4,
        "dropped bytes were read with O_DIRECT ({direct})"
    );
    assert!(
        hits * 2 > direct,
        "most sequential direct reads were read ahead ({hits} of {direct})"
    );
    assert_eq!(
        read_all(&log),
        expected,
        "a second pass finds the same bytes"
    );
    for &(base, last) in expected.iter().step_by(10) {
        let mid = base + (last - base) / 2;
        let r = log
            .read(Offset(mid), 64 * 1024, Offset(i64::MAX), true)
            .unwrap();
        let got = batches(&r.records);
        assert_eq!(got.first(), Some(&(base, last)), "read at {mid}");
    }
    // After a reopen (no drop marks yet) everything reads the same.
    drop(log);
    let log = open(&dir, settings, &clock, None);
    assert_eq!(read_all(&log), expected);
}
