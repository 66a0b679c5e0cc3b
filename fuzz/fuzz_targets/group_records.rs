//! `__consumer_offsets` record decoding: `gregor::group::records::decode(key, value)`.
//! Byte 0 splits the rest: low 7 bits = key length (clamped), high bit set = null value (tombstone).
#![no_main]

use gregor::group::records::{
    Record, consumer_group_key, consumer_group_value, decode, group_key, group_value, offset_key,
    offset_value,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(first & 0x7f).min(rest.len());
    let (key, value) = rest.split_at(split);
    let value = (first & 0x80 == 0).then_some(value);
    let Ok(Some(record)) = decode(key, value) else {
        return;
    };
    // Whatever decodes must re-encode (in the current versions) to something that decodes the same
    // (strings longer than i16::MAX cannot occur: they were read with an i16 length).
    let (k, v) = match &record {
        Record::Offset { group, topic, partition, value } => {
            (offset_key(group, topic, *partition), value.as_ref().map(offset_value))
        }
        Record::ClassicGroup { group, value } => (group_key(group), value.as_ref().map(group_value)),
        Record::ConsumerGroup { group, epoch } => {
            (consumer_group_key(group), epoch.map(consumer_group_value))
        }
    };
    let again = decode(&k, v.as_deref()).expect("re-encoded record does not decode");
    assert_eq!(again.as_ref(), Some(&record), "round trip changed the record");
});
