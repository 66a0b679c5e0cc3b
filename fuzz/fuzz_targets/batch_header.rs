//! Stored record-batch framing: `BatchHeader::parse`, `verify_crc`, `BatchIter`, `whole_batches_len`.
#![no_main]

use gregor::log::batch::{HEADER_BYTES, compute_crc, verify_crc, whole_batches_len};
use gregor::log::{BatchHeader, BatchIter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = BatchHeader::parse(data) {
        assert!(data.len() >= HEADER_BYTES);
        assert!(h.total_size_bytes() >= HEADER_BYTES);
        assert!(h.last_offset() >= h.base_offset);
        assert!(h.next_offset() >= h.last_offset());
        assert!(h.compression_codec() <= 7);
        let _ = (h.last_sequence(), h.is_idempotent(), h.is_control(), h.is_transactional());
        let _ = h.is_log_append_time();
    }
    if verify_crc(data).is_ok() {
        let h = BatchHeader::parse(data).expect("crc ok but header does not parse");
        assert_eq!(h.total_size_bytes(), data.len());
        assert_eq!(compute_crc(data), Some(h.crc));
    }

    let mut it = BatchIter::new(data);
    let mut end = 0usize;
    let mut items = 0usize;
    while let Some(item) = it.next() {
        items += 1;
        // Every Ok item consumes >= 61 bytes and there is at most one Err: the loop must end.
        assert!(items <= data.len() / HEADER_BYTES + 1, "BatchIter does not terminate");
        match item {
            Ok(b) => {
                assert_eq!(b.range.start, end, "batches must be contiguous");
                assert!(b.range.end <= data.len(), "range outside the buffer");
                assert_eq!(b.range.len(), b.header.total_size_bytes());
                assert!(b.range.len() >= HEADER_BYTES);
                let _ = verify_crc(&data[b.range.clone()]);
                end = b.range.end;
                assert_eq!(it.position(), end);
            }
            Err(_) => assert_eq!(it.position(), end),
        }
    }
    assert!(it.next().is_none(), "iterator resumed after None");
    assert_eq!(whole_batches_len(data), end);
});
