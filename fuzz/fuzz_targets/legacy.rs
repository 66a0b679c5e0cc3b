//! The hand-written decoders for the request versions Kafka 4 removed and Gregor serves
//! (`protocol::legacy`): byte 0 picks one (api, version) of `legacy::SERVED`, the rest is the body.
//! Beyond "no panic": whatever decodes has no more elements than the body has bytes, and the
//! encoder for the same (api, version) writes a default response without error.
#![no_main]

use bytes::{Bytes, BytesMut};
use gregor::protocol::codec::{Request, Response};
use gregor::protocol::legacy::{SERVED, decode_request, encode_response};
use gregor::protocol::msg::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let pairs: Vec<_> = SERVED
        .iter()
        .flat_map(|(k, r)| (r.min..=r.max).map(move |v| (*k, v)))
        .collect();
    let (api_key, version) = pairs[usize::from(pick) % pairs.len()];
    let mut buf = Bytes::copy_from_slice(body);
    let Ok(request) = decode_request(api_key, version, &mut buf) else {
        return;
    };
    assert!(buf.len() <= body.len());
    let (elements, response) = match request {
        Request::ListOffsets(r) => (
            r.topics.iter().map(|t| 1 + t.partitions.len()).sum::<usize>(),
            Response::ListOffsets(ListOffsetsResponse::default()),
        ),
        Request::OffsetCommit(r) => (
            r.topics.iter().map(|t| 1 + t.partitions.len()).sum(),
            Response::OffsetCommit(OffsetCommitResponse::default()),
        ),
        Request::OffsetFetch(r) => (
            r.topics
                .iter()
                .flatten()
                .map(|t| 1 + t.partition_indexes.len())
                .sum(),
            Response::OffsetFetch(OffsetFetchResponse::default()),
        ),
        Request::CreateTopics(r) => (
            r.topics
                .iter()
                .map(|t| 1 + t.assignments.len() + t.configs.len())
                .sum(),
            Response::CreateTopics(CreateTopicsResponse::default()),
        ),
        Request::DeleteTopics(r) => (
            r.topic_names.len(),
            Response::DeleteTopics(DeleteTopicsResponse::default()),
        ),
        Request::DescribeConfigs(r) => (
            r.resources
                .iter()
                .map(|x| 1 + x.configuration_keys.as_ref().map_or(0, Vec::len))
                .sum(),
            Response::DescribeConfigs(DescribeConfigsResponse::default()),
        ),
        other => panic!("{api_key:?} v{version} decoded into {other:?}"),
    };
    assert!(elements <= body.len());
    assert!(encode_response(&response, version, &mut BytesMut::new()).is_ok());
});
