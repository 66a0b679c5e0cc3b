//! On-disk index and checkpoint files: `.index` / `.timeindex` entry decoding, and the text parsers
//! of `recovery-point-offset-checkpoint` (same format as `log-start-offset-checkpoint`) and
//! `partition.metadata` (incl. `topic_id_from_string`). The checkpoint readers take a path, so the
//! input is written to a per-process temp dir (on /dev/shm if present) first. (`leader-epoch-checkpoint` has a writer only.)
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use gregor::log::checkpoint::{
    PARTITION_METADATA, RECOVERY_POINT_CHECKPOINT, read_offset_checkpoint,
    read_partition_metadata, topic_id_from_string, topic_id_to_string,
};
use gregor::log::index::{
    decode_offset_entries, decode_time_entries, encode_offset_entries, encode_time_entries,
};
use libfuzzer_sys::fuzz_target;

static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    // tmpfs when there is one: writing the input twice per execution dominates the run time.
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    let dir = base.join(format!("gregor-fuzz-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
});

fuzz_target!(|data: &[u8]| {
    match decode_offset_entries(data) {
        Some(v) => {
            assert_eq!(v.len() * 8, data.len());
            assert_eq!(encode_offset_entries(&v), data);
        }
        None => assert!(!data.len().is_multiple_of(8)),
    }
    match decode_time_entries(data) {
        Some(v) => {
            assert_eq!(v.len() * 12, data.len());
            assert_eq!(encode_time_entries(&v), data);
        }
        None => assert!(!data.len().is_multiple_of(12)),
    }

    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(id) = topic_id_from_string(s)
    {
        assert_eq!(topic_id_to_string(&id), s);
    }

    let dir: &PathBuf = &DIR;
    let path = dir.join(RECOVERY_POINT_CHECKPOINT);
    std::fs::write(&path, data).expect("write checkpoint");
    if let Ok(map) = read_offset_checkpoint(&path) {
        assert!(map.len() <= data.len());
    }
    std::fs::write(dir.join(PARTITION_METADATA), data).expect("write partition.metadata");
    if let Ok(Some(id)) = read_partition_metadata(dir) {
        assert_eq!(topic_id_to_string(&id).len(), 22);
    }
});
