//! OffsetForLeaderEpoch and the KIP-320 `current_leader_epoch` checks of ListOffsets, through raw
//! requests against a single node (its partitions' leader epoch comes from Metadata).

mod common;

use common::raw::RawClient;
use common::{TestBroker, send};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn request(topic: &str, partition: i32, current: i32, epoch: i32) -> OffsetForLeaderEpochRequest {
    let mut r = OffsetForLeaderEpochRequest::default();
    r.replica_id = (-1).into();
    let mut t = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
    t.topic = TopicName(s(topic));
    let mut p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default();
    p.partition = partition;
    p.current_leader_epoch = current;
    p.leader_epoch = epoch;
    t.partitions = vec![p];
    r.topics = vec![t];
    r
}

async fn answer(raw: &mut RawClient, r: &OffsetForLeaderEpochRequest, v: i16) -> (i16, i32, i64) {
    let resp = raw.call(r, v).await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_for_leader_epoch_and_current_epoch_checks() {
    let broker = TestBroker::start().await;
    broker.create_topic("epochs", 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;

    let mut md = MetadataRequest::default();
    let mut mt = metadata_request::MetadataRequestTopic::default();
    mt.name = Some(TopicName(s("epochs")));
    md.topics = Some(vec![mt]);
    let epoch = raw.call(&md, 12).await.topics[0].partitions[0].leader_epoch;
    assert!(epoch >= 0);

    // An empty log: the current epoch ends at the log end offset, 0.
    let r = request("epochs", 0, epoch, epoch);
    assert_eq!(answer(&mut raw, &r, 4).await, (0, epoch, 0));

    let producer = broker.producer(&[]);
    for i in 0..5u8 {
        send(&producer, "epochs", Some(0), b"k", &[i]).await;
    }
    for v in [2, 3, 4] {
        // The current epoch ends at the log end offset.
        assert_eq!(
            answer(&mut raw, &request("epochs", 0, -1, epoch), v).await,
            (0, epoch, 5)
        );
        // An epoch above every known one: nothing known, no error.
        let r = request("epochs", 0, -1, epoch + 3);
        assert_eq!(answer(&mut raw, &r, v).await, (0, -1, -1));
    }
    // A client that believes in a newer or older epoch is told so.
    let r = request("epochs", 0, epoch + 1, epoch);
    assert_eq!(answer(&mut raw, &r, 4).await.0, UNKNOWN_LEADER_EPOCH);
    if epoch > 0 {
        let r = request("epochs", 0, epoch - 1, epoch);
        assert_eq!(answer(&mut raw, &r, 4).await.0, FENCED_LEADER_EPOCH);
    }
    // Unknown partitions.
    for (t, p) in [("epochs", 7), ("nowhere", 0)] {
        let r = request(t, p, -1, 0);
        assert_eq!(
            answer(&mut raw, &r, 4).await,
            (UNKNOWN_TOPIC_OR_PARTITION, -1, -1)
        );
    }

    // ListOffsets v4+ checks current_leader_epoch too.
    let list = |current: i32| {
        let mut r = ListOffsetsRequest::default();
        r.replica_id = (-1).into();
        let mut t = list_offsets_request::ListOffsetsTopic::default();
        t.name = TopicName(s("epochs"));
        let mut p = list_offsets_request::ListOffsetsPartition::default();
        p.partition_index = 0;
        p.current_leader_epoch = current;
        p.timestamp = -1;
        t.partitions = vec![p];
        r.topics = vec![t];
        r
    };
    let ok = raw.call(&list(epoch), 7).await;
    assert_eq!(ok.topics[0].partitions[0].error_code, 0);
    assert_eq!(ok.topics[0].partitions[0].offset, 5);
    let newer = raw.call(&list(epoch + 1), 7).await;
    assert_eq!(
        newer.topics[0].partitions[0].error_code,
        UNKNOWN_LEADER_EPOCH
    );
    broker.shutdown().await;
}
