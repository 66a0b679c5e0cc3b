//! ConsumerProtocol subscription and assignment decoding (`gregor::group::consumer_protocol`),
//! read by the group coordinator when it converts groups between protocols.
#![no_main]

use gregor::group::consumer_protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, version_of,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let version = version_of(data);
    assert!((0..=3).contains(&version));
    // Whatever decodes must re-encode to something that decodes the same.
    if let Ok(s) = decode_subscription(data) {
        let again = decode_subscription(&encode_subscription(&s)).expect("re-encoded subscription");
        assert_eq!(again, s, "subscription round trip changed it");
    }
    if let Ok(parts) = decode_assignment(data) {
        let again = decode_assignment(&encode_assignment(version, &parts)).expect("re-encoded");
        assert_eq!(again, parts, "assignment round trip changed it");
    }
});
