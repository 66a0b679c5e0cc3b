//! Record-level decoding of one stored batch (decompressing): `first_record_at_or_after`,
//! `max_timestamp_record`, `decode_key_values`. Bytes 0..8 are the timestamp to search for.
#![no_main]

use bytes::Bytes;
use gregor::protocol::records::{decode_key_values, first_record_at_or_after, max_timestamp_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ts, batch)) = data.split_first_chunk::<8>() else {
        return;
    };
    let ts = i64::from_be_bytes(*ts);
    let batch = Bytes::copy_from_slice(batch);
    let first = first_record_at_or_after(batch.clone(), ts);
    let max = max_timestamp_record(batch.clone());
    let kvs = decode_key_values(batch);
    assert_eq!(first.is_ok(), max.is_ok());
    assert_eq!(first.is_ok(), kvs.is_ok());
    if let (Ok(first), Ok(max), Ok(kvs)) = (first, max, kvs) {
        assert_eq!(max.is_none(), kvs.is_empty());
        if let Some((_, t)) = first {
            assert!(t >= ts);
            assert!(max.expect("a first record but no max").1 >= t);
        }
        if let Some((off, _)) = max {
            assert!(kvs.iter().any(|(o, _, _)| *o == off));
        }
    }
});
