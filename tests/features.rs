//! Broker features through real clients: idempotence under lost responses, timestamps and
//! offsets_for_times, topic lifecycle, error codes, configs, fetch sessions and long polls.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::raw::RawClient;
use common::*;
use rdkafka::admin::{AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Timestamp;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback proxy that forwards requests untouched and drops the connection instead of
/// forwarding every `drop_every`-th response: the broker has done the work, the client never
/// hears of it, and must retry.
async fn lossy_proxy(
    listener: TcpListener,
    broker: std::net::SocketAddr,
    drop_every: usize,
    dropped: Arc<AtomicUsize>,
    lossy: Arc<AtomicBool>,
) {
    let responses = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let Ok(server) = TcpStream::connect(broker).await else {
            return;
        };
        let (responses, dropped, lossy) = (responses.clone(), dropped.clone(), lossy.clone());
        tokio::spawn(async move {
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            loop {
                let mut len = [0u8; 4];
                if sr.read_exact(&mut len).await.is_err() {
                    break;
                }
                let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
                if sr.read_exact(&mut body).await.is_err() {
                    break;
                }
                let n = responses.fetch_add(1, Ordering::SeqCst) + 1;
                if lossy.load(Ordering::SeqCst) && n > 10 && n % drop_every == 0 {
                    dropped.fetch_add(1, Ordering::SeqCst);
                    break; // lose this response and the connection with it
                }
                if cw.write_all(&len).await.is_err() || cw.write_all(&body).await.is_err() {
                    break;
                }
            }
            up.abort();
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_retries_deliver_no_duplicates() {
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let advertised = format!("PLAINTEXT://127.0.0.1:{proxy_port}");
    let broker = TestBroker::start_with(&[("advertised.listeners", advertised.as_str())]).await;
    let direct = broker.broker.as_ref().unwrap().handle().local_addr();
    let dropped = Arc::new(AtomicUsize::new(0));
    let lossy = Arc::new(AtomicBool::new(true));
    tokio::spawn(lossy_proxy(
        proxy,
        direct,
        9,
        dropped.clone(),
        lossy.clone(),
    ));
    broker.create_topic("idem", 2, &[]).await;

    const N: usize = 3000;
    let producer = broker.producer(&[
        ("enable.idempotence", "true"),
        ("linger.ms", "2"),
        ("batch.num.messages", "50"),
        ("retry.backoff.ms", "10"),
        ("request.timeout.ms", "5000"),
        ("reconnect.backoff.ms", "10"),
        ("reconnect.backoff.max.ms", "50"),
    ]);
    let mut futures = Vec::with_capacity(N);
    for i in 0..N {
        let value = format!("v{i}");
        let key = format!("k{}", i % 10);
        futures.push(
            producer
                .send_result(FutureRecord::to("idem").key(&key).payload(&value))
                .map_err(|(e, _)| e)
                .unwrap(),
        );
    }
    let mut acked = HashMap::new();
    for (i, f) in futures.into_iter().enumerate() {
        let d = tokio::time::timeout(WAIT, f)
            .await
            .expect("delivery in time")
            .expect("not cancelled");
        let d = d
            .map_err(|(e, _)| e)
            .expect("delivered despite lost responses");
        acked.insert(i, (d.partition, d.offset));
    }
    assert!(
        dropped.load(Ordering::SeqCst) > 0,
        "the proxy really lost responses"
    );
    lossy.store(false, Ordering::SeqCst);

    let consumer = broker.consumer(&[]);
    let got = tokio::task::spawn_blocking(move || read_all(&consumer, "idem", 2, N + 1))
        .await
        .unwrap();
    assert_eq!(got.len(), N, "every record exactly once");
    let mut by_value = HashMap::new();
    for g in &got {
        let v = String::from_utf8(g.value.clone().unwrap()).unwrap();
        let i: usize = v[1..].parse().unwrap();
        assert!(
            by_value.insert(i, (g.partition, g.offset)).is_none(),
            "record {i} duplicated"
        );
    }
    for (i, at) in acked {
        assert_eq!(
            by_value.get(&i),
            Some(&at),
            "record {i} read where it was acknowledged"
        );
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_for_times_finds_the_first_record_at_or_after() {
    let broker = TestBroker::start().await;
    broker.create_topic("times", 1, &[]).await;
    let producer = broker.producer(&[("linger.ms", "50")]);
    let base = 1_700_000_000_000i64;
    let mut futures = Vec::new();
    for i in 0..200i64 {
        let value = format!("{i}");
        // Many records per batch, so the answer needs record-level resolution.
        let record = FutureRecord::to("times")
            .partition(0)
            .key("k")
            .payload(&value)
            .timestamp(base + i * 10);
        futures.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for f in futures {
        f.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
    let consumer = broker.consumer(&[]);
    let lookup = |ts: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("times", 0, Offset::Offset(ts))
            .unwrap();
        let r = consumer
            .offsets_for_times(tpl, Duration::from_secs(10))
            .unwrap();
        r.find_partition("times", 0).unwrap().offset()
    };
    assert_eq!(lookup(base), Offset::Offset(0));
    assert_eq!(lookup(base + 555), Offset::Offset(56));
    assert_eq!(lookup(base + 1990), Offset::Offset(199));
    assert_eq!(lookup(base - 1_000_000), Offset::Offset(0));
    assert_eq!(lookup(base + 5000), Offset::End, "no record that late");
    let (low, high) = consumer
        .fetch_watermarks("times", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!((low, high), (0, 200));
    // Timestamps come back as they were produced.
    let got = read_all(&consumer, "times", 1, 200);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, g)| g.timestamp == Some(base + i as i64 * 10))
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_append_time_topics_stamp_records_on_arrival() {
    let broker = TestBroker::start().await;
    broker
        .create_topic("lat", 1, &[("message.timestamp.type", "LogAppendTime")])
        .await;
    let producer = broker.producer(&[]);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    producer
        .send(
            FutureRecord::to("lat").key("k").payload("v").timestamp(42),
            WAIT,
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let consumer = broker.consumer(&[]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("lat", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let m = loop {
        if let Some(m) = consumer.poll(Duration::from_secs(10)) {
            break m.unwrap();
        }
    };
    use rdkafka::message::Message;
    match m.timestamp() {
        Timestamp::LogAppendTime(ts) => assert!(ts >= before, "stamped by the broker, not 42"),
        other => panic!("expected LogAppendTime, got {other:?}"),
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_recreate_a_topic() {
    let broker = TestBroker::start().await;
    broker.create_topic("cycle", 3, &[]).await;
    let producer = broker.producer(&[]);
    for i in 0..10 {
        send(&producer, "cycle", Some(i % 3), b"k", b"old").await;
    }
    let dir = broker.dir.path().join("cycle-0");
    assert!(dir.join("00000000000000000000.log").exists());
    let admin = broker.admin();
    let res = admin
        .delete_topics(&["cycle"], &AdminOptions::new())
        .await
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    assert!(!dir.exists(), "data removed from disk");
    let res = admin
        .delete_topics(&["cycle"], &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::UnknownTopicOrPartition
    );

    broker.create_topic("cycle", 2, &[]).await;
    let fresh = broker.producer(&[]);
    for _ in 0..3 {
        send(&fresh, "cycle", Some(1), b"k", b"new").await;
    }
    let consumer = broker.consumer(&[]);
    let got = tokio::task::spawn_blocking(move || read_all(&consumer, "cycle", 2, 4))
        .await
        .unwrap();
    assert_eq!(got.len(), 3, "only the new topic's records");
    assert!(
        got.iter()
            .all(|g| g.value.as_deref() == Some(&b"new"[..]) && g.partition == 1)
    );
    assert_eq!(
        got.iter().map(|g| g.offset).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_survive_restart_and_auto_creation_uses_num_partitions() {
    let mut broker = TestBroker::start_with(&[("num.partitions", "4")]).await;
    let producer = broker.producer(&[]);
    send(&producer, "auto-made", None, b"k", b"v").await;
    drop(producer);
    broker.restart(&[("num.partitions", "4")]).await;
    let consumer = broker.consumer(&[]);
    let md = consumer
        .fetch_metadata(Some("auto-made"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 4);
    let got = read_all(&consumer, "auto-made", 4, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value.as_deref(), Some(&b"v"[..]));
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_kafkas() {
    let broker = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    let consumer = broker.consumer(&[]);
    // Unknown topic with auto-creation off.
    let md = consumer
        .fetch_metadata(Some("missing"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        md.topics()[0].error().map(RDKafkaErrorCode::from),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
    let producer = broker.producer(&[
        ("message.timeout.ms", "5000"),
        ("topic.metadata.propagation.max.ms", "100"),
    ]);
    let err = producer
        .send(FutureRecord::to("missing").key("k").payload("v"), WAIT)
        .await
        .unwrap_err()
        .0;
    assert!(
        matches!(
            err,
            KafkaError::MessageProduction(
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
            )
        ),
        "{err:?}"
    );

    let admin = broker.admin();
    let opts = AdminOptions::new();
    // Invalid names, replication factors, configs.
    let bad = [
        NewTopic::new("bad name!", 1, TopicReplication::Fixed(1)),
        NewTopic::new("rf3", 1, TopicReplication::Fixed(3)),
        NewTopic::new("badcfg", 1, TopicReplication::Fixed(1)).set("retention.ms", "soon"),
        NewTopic::new("unknowncfg", 1, TopicReplication::Fixed(1)).set("retention.msec", "1"),
    ];
    let res = admin.create_topics(&bad, &opts).await.unwrap();
    let codes: Vec<_> = res.into_iter().map(|r| r.unwrap_err().1).collect();
    assert_eq!(
        codes,
        vec![
            RDKafkaErrorCode::InvalidTopic,
            RDKafkaErrorCode::InvalidReplicationFactor,
            RDKafkaErrorCode::InvalidConfig,
            RDKafkaErrorCode::InvalidConfig
        ]
    );
    broker
        .create_topic("small", 3, &[("max.message.bytes", "1000")])
        .await;
    let res = admin
        .create_topics(
            &[NewTopic::new("small", 1, TopicReplication::Fixed(1))],
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::TopicAlreadyExists
    );

    // Oversized batch.
    let big = vec![b'x'; 5000];
    let err = producer
        .send(
            FutureRecord::to("small")
                .partition(0)
                .key("k")
                .payload(&big),
            WAIT,
        )
        .await
        .unwrap_err()
        .0;
    assert_eq!(
        err,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
    );

    // Partition counts only grow.
    let res = admin
        .create_partitions(&[NewPartitions::new("small", 2)], &opts)
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::InvalidPartitions
    );
    let res = admin
        .create_partitions(&[NewPartitions::new("small", 5)], &opts)
        .await
        .unwrap();
    assert!(res[0].is_ok());
    let md = consumer
        .fetch_metadata(Some("small"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 5);

    // Offset out of range: a consumer with auto.offset.reset=error is told so.
    send(&producer, "small", Some(0), b"k", b"v").await;
    let strict = broker.consumer(&[("auto.offset.reset", "error")]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("small", 0, Offset::Offset(50))
        .unwrap();
    strict.assign(&tpl).unwrap();
    let err = loop {
        match strict.poll(Duration::from_secs(10)) {
            Some(Err(e)) => break e,
            Some(Ok(_)) => panic!("no record at offset 50"),
            None => panic!("no error reported"),
        }
    };
    // librdkafka turns the broker's OFFSET_OUT_OF_RANGE into "no offset to reset to" under reset=error.
    assert!(
        matches!(
            err,
            KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset)
        ),
        "{err}"
    );
    // And the broker's own answer, seen raw: OFFSET_OUT_OF_RANGE (1).
    {
        use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
        use kafka_protocol::messages::{FetchRequest, TopicName};
        let mut fp = FetchPartition::default();
        fp.partition = 0;
        fp.fetch_offset = 50;
        fp.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic = TopicName(kafka_protocol::protocol::StrBytes::from_static_str("small"));
        t.partitions = vec![fp];
        let mut r = FetchRequest::default();
        r.replica_id = (-1).into();
        r.max_bytes = 1 << 20;
        r.session_epoch = -1;
        r.topics = vec![t];
        let mut raw = RawClient::connect(&broker.bootstrap()).await;
        let resp = raw.call(&r, 11).await;
        assert_eq!(resp.responses[0].partitions[0].error_code, 1);
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_configs_reports_overrides_and_defaults() {
    let broker = TestBroker::start().await;
    broker
        .create_topic("cfg", 1, &[("retention.ms", "12345")])
        .await;
    let admin = broker.admin();
    let res = admin
        .describe_configs(
            &[
                ResourceSpecifier::Topic("cfg"),
                ResourceSpecifier::Broker(1),
            ],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let topic = res[0].as_ref().unwrap();
    let retention = topic.get("retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("12345"));
    assert!(!retention.is_default);
    let segment = topic.get("segment.bytes").unwrap();
    assert_eq!(segment.value.as_deref(), Some("1073741824"));
    assert!(segment.is_default);
    let broker_cfg = res[1].as_ref().unwrap();
    assert_eq!(
        broker_cfg.get("num.partitions").unwrap().value.as_deref(),
        Some("1")
    );
    broker.shutdown().await;
}

/// KIP-227 through raw Fetch v12 requests: a full request opens a session, incremental requests
/// name only what changed and get back only what changed; a bad epoch is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sessions_and_long_polls() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{FetchRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    let broker = TestBroker::start().await;
    broker.create_topic("sess", 2, &[]).await;
    let producer = broker.producer(&[]);
    send(&producer, "sess", Some(0), b"k", b"first").await;

    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let partition = |p: i32, offset: i64| {
        let mut fp = FetchPartition::default();
        fp.partition = p;
        fp.fetch_offset = offset;
        fp.partition_max_bytes = 1 << 20;
        fp
    };
    let topic = |parts: Vec<FetchPartition>| {
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_static_str("sess"));
        t.partitions = parts;
        t
    };
    let request = |session_id: i32, epoch: i32, topics: Vec<FetchTopic>, wait_ms: i32| {
        let mut r = FetchRequest::default();
        r.replica_id = (-1).into();
        r.max_wait_ms = wait_ms;
        r.min_bytes = 1;
        r.max_bytes = 1 << 24;
        r.session_id = session_id;
        r.session_epoch = epoch;
        r.topics = topics;
        r
    };
    // Full request, new session.
    let full = raw
        .call(
            &request(0, 0, vec![topic(vec![partition(0, 0), partition(1, 0)])], 0),
            12,
        )
        .await;
    assert_eq!(full.error_code, 0);
    let session = full.session_id;
    assert!(session > 0);
    let parts = &full.responses[0].partitions;
    assert_eq!(parts.len(), 2, "a full response carries every partition");
    assert!(
        parts
            .iter()
            .any(|p| p.partition_index == 0 && !p.records.as_ref().unwrap().is_empty())
    );

    // Incremental: partition 0 moves past its record; nothing changed, so the long poll waits
    // until a record arrives on partition 1, and only partition 1 comes back.
    let p2 = producer.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(&p2, "sess", Some(1), b"k", b"second").await;
    });
    let inc = raw
        .call(
            &request(session, 1, vec![topic(vec![partition(0, 1)])], 10_000),
            12,
        )
        .await;
    assert_eq!(inc.error_code, 0);
    assert_eq!(inc.session_id, session);
    let parts: Vec<_> = inc
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .collect();
    assert_eq!(parts.len(), 1, "only the partition that changed: {parts:?}");
    assert_eq!(parts[0].partition_index, 1);
    assert_eq!(parts[0].high_watermark, 1);

    // A replayed epoch is refused; an unknown session too.
    let stale = raw.call(&request(session, 1, vec![], 0), 12).await;
    assert_eq!(stale.error_code, 71, "INVALID_FETCH_SESSION_EPOCH");
    let unknown = raw.call(&request(session + 1000, 1, vec![], 0), 12).await;
    assert_eq!(unknown.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");

    // Session-less fetch with a long poll that times out returns empty, not an error.
    let empty = raw
        .call(&request(0, -1, vec![topic(vec![partition(0, 1)])], 200), 12)
        .await;
    assert_eq!(empty.session_id, 0);
    assert!(
        empty.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .is_empty()
    );
    broker.shutdown().await;
}

/// Produce v13 names the topic by id; ListOffsets -3 finds the record with the largest
/// timestamp; DescribeCluster describes this broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_by_topic_id_max_timestamp_and_describe_cluster() {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        DescribeClusterRequest, ListOffsetsRequest, MetadataRequest, ProduceRequest, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::Compression;

    let broker = TestBroker::start().await;
    broker.create_topic("by-id", 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let mut md = MetadataRequest::default();
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("by-id")));
    md.topics = Some(vec![t]);
    let md = raw.call(&md, 12).await;
    let topic_id = md.topics[0].topic_id;
    assert!(!topic_id.is_nil());

    let batch = encode_batch(Compression::None, &[100, 300, 200], true);
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch.freeze());
    let mut td = TopicProduceData::default();
    td.topic_id = topic_id;
    td.partition_data = vec![pd];
    let mut produce = ProduceRequest::default();
    produce.acks = -1;
    produce.timeout_ms = 5000;
    produce.topic_data = vec![td];
    let resp = raw.call(&produce, 13).await;
    assert_eq!(resp.responses[0].topic_id, topic_id);
    let pr = &resp.responses[0].partition_responses[0];
    assert_eq!((pr.error_code, pr.base_offset), (0, 0));

    // An unknown id is UNKNOWN_TOPIC_ID.
    let mut unknown = produce.clone();
    unknown.topic_data[0].topic_id = uuid::Uuid::from_u128(42);
    let resp = raw.call(&unknown, 13).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 100);

    let mut lp = ListOffsetsPartition::default();
    lp.partition_index = 0;
    lp.timestamp = -3;
    let mut lt = ListOffsetsTopic::default();
    lt.name = TopicName(StrBytes::from_static_str("by-id"));
    lt.partitions = vec![lp];
    let mut lo = ListOffsetsRequest::default();
    lo.replica_id = (-1).into();
    lo.topics = vec![lt];
    let resp = raw.call(&lo, 7).await;
    let p = &resp.topics[0].partitions[0];
    assert_eq!(
        (p.error_code, p.offset, p.timestamp),
        (0, 1, 300),
        "the record with the largest timestamp"
    );

    let dc = raw
        .call(&DescribeClusterRequest::default().with_endpoint_type(1), 1)
        .await;
    assert_eq!(dc.error_code, 0);
    assert_eq!(Some(dc.cluster_id), md.cluster_id);
    assert_eq!(dc.brokers.len(), 1);
    assert_eq!(
        format!("{}:{}", dc.brokers[0].host, dc.brokers[0].port),
        broker.bootstrap()
    );
    broker.shutdown().await;
}

/// The running broker applies retention: old segments go, the log start offset moves, and a
/// consumer sees the new low watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_segments_while_serving() {
    let broker = TestBroker::start_with(&[("log.retention.check.interval.ms", "200")]).await;
    broker
        .create_topic(
            "by-time",
            1,
            &[("retention.ms", "60000"), ("segment.bytes", "2000")],
        )
        .await;
    broker
        .create_topic(
            "by-size",
            1,
            &[("retention.bytes", "4000"), ("segment.bytes", "2000")],
        )
        .await;
    let producer = broker.producer(&[("linger.ms", "0")]);
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 3_600_000;
    for i in 0..100 {
        let v = format!("{i:0>100}");
        producer
            .send(
                FutureRecord::to("by-time")
                    .partition(0)
                    .payload(&v)
                    .key("k")
                    .timestamp(hour_ago),
                WAIT,
            )
            .await
            .unwrap();
        send(&producer, "by-size", Some(0), b"k", v.as_bytes()).await;
    }
    let consumer = broker.consumer(&[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let time = consumer
            .fetch_watermarks("by-time", 0, Duration::from_secs(5))
            .unwrap();
        let size = consumer
            .fetch_watermarks("by-size", 0, Duration::from_secs(5))
            .unwrap();
        if time == (100, 100) && size.0 > 0 {
            assert_eq!(size.1, 100);
            let segments_bytes: u64 = std::fs::read_dir(broker.dir.path().join("by-size-0"))
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .map(|e| e.metadata().unwrap().len())
                .sum();
            assert!(
                segments_bytes < 4000 + 2000,
                "retention.bytes bounds the log: {segments_bytes}"
            );
            let got = read_all(&consumer, "by-size", 1, (100 - size.0) as usize);
            assert_eq!(
                got.first().map(|g| g.offset),
                Some(size.0),
                "reads start at the new log start"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not run: time {time:?} size {size:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    broker.shutdown().await;
}

/// zstd is refused below Produce v7 with UNSUPPORTED_COMPRESSION_TYPE, as Kafka does; a batch
/// whose max timestamp was left at -1 (old Sarama) gets it from its records, so lookups by time
/// find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_needs_produce_v7_and_unset_max_timestamps_are_computed() {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ListOffsetsRequest, ProduceRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::Compression;

    let broker = TestBroker::start().await;
    broker.create_topic("codecs", 1, &[]).await;
    let batch =
        |compression: Compression, timestamps: &[i64]| encode_batch(compression, timestamps, false);
    let produce = |records: bytes::Bytes| {
        let mut pd = PartitionProduceData::default();
        pd.index = 0;
        pd.records = Some(records);
        let mut td = TopicProduceData::default();
        td.name = TopicName(StrBytes::from_static_str("codecs"));
        td.partition_data = vec![pd];
        let mut req = ProduceRequest::default();
        req.acks = 1;
        req.timeout_ms = 5000;
        req.topic_data = vec![td];
        req
    };
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let zstd = batch(Compression::Zstd, &[1, 2]).freeze();
    let refused = raw.call(&produce(zstd.clone()), 5).await;
    assert_eq!(
        refused.responses[0].partition_responses[0].error_code, 76,
        "UNSUPPORTED_COMPRESSION_TYPE"
    );
    let accepted = raw.call(&produce(zstd), 7).await;
    assert_eq!(accepted.responses[0].partition_responses[0].error_code, 0);

    // Max timestamp left unset: patch it to -1 and fix the CRC, as an old client would send it.
    let mut unset = batch(Compression::None, &[5_000, 9_000, 7_000]);
    unset[35..43].copy_from_slice(&(-1i64).to_be_bytes());
    gregor::log::batch::rewrite_crc(&mut unset).unwrap();
    let r = raw.call(&produce(unset.freeze()), 5).await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 2));
    let mut lp = ListOffsetsPartition::default();
    lp.partition_index = 0;
    lp.timestamp = 8_000;
    let mut lt = ListOffsetsTopic::default();
    lt.name = TopicName(StrBytes::from_static_str("codecs"));
    lt.partitions = vec![lp];
    let mut lo = ListOffsetsRequest::default();
    lo.replica_id = (-1).into();
    lo.topics = vec![lt];
    let found = raw.call(&lo, 1).await;
    let p = &found.topics[0].partitions[0];
    assert_eq!(
        (p.error_code, p.offset, p.timestamp),
        (0, 3, 9_000),
        "found through the computed max timestamp"
    );
    broker.shutdown().await;
}
