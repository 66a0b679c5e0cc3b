//! Request framing and decoding: `frame_body_len` on the 4-byte prefix, then `decode_request` on
//! the rest (header + body of every API in Gregor's version table, incl. hand-decoded Produce v0-2
//! and the removed versions in `protocol::legacy`).
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use gregor::config::BrokerConfig;
use gregor::protocol::codec::peek_header;
use gregor::protocol::{ApiVersionTable, decode_request, frame_body_len};
use gregor::server::handlers::version_table;
use libfuzzer_sys::fuzz_target;

const REQUEST_BYTES_MAX: usize = 1 << 20;
// The default config serves the removed versions of `protocol::legacy` too.
static TABLE: LazyLock<ApiVersionTable> =
    LazyLock::new(|| version_table(&BrokerConfig::default()));

fuzz_target!(|data: &[u8]| {
    let Some((prefix, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    if let Ok(len) = frame_body_len(*prefix, REQUEST_BYTES_MAX) {
        assert!((8..=REQUEST_BYTES_MAX).contains(&len));
        assert_eq!(len as i64, i32::from_be_bytes(*prefix) as i64);
    }
    // The body is decoded whatever the prefix says, so the fuzzer need not match the length.
    if let Ok(frame) = decode_request(Bytes::copy_from_slice(rest), &TABLE) {
        let (key, version, correlation_id) = peek_header(rest).expect("decoded without a header");
        assert_eq!(frame.api_key as i16, key);
        assert_eq!(frame.version, version);
        assert_eq!(frame.correlation_id, correlation_id);
        let range = TABLE.range(frame.api_key).expect("decoded an api not in the table");
        assert!(range.contains(frame.version));
    }
});
