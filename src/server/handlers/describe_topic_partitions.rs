//! DescribeTopicPartitions (KIP-966): topics with their partitions, paged by a cursor; what the
//! Java admin client's `describeTopics` uses from Kafka 3.8 on.
//!
//! Contract, as Kafka 4.1's `DescribeTopicPartitionsRequestHandler` and
//! `KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse`:
//! - An empty topic list means every topic. Topics are deduplicated, those sorting before the
//!   cursor's topic dropped, and the rest answered in name order.
//! - An explicit list that does not contain the cursor's topic fails the whole request: every
//!   requested topic gets INVALID_REQUEST.
//! - The cursor's topic starts at the cursor's partition, every other topic at 0. At most
//!   `min(response_partition_limit, max.request.partition.size.limit)` partitions are answered;
//!   when a topic's partitions do not all fit, `next_cursor` names the first one left out, and when
//!   the limit is used up exactly, it names the next topic at partition 0. A cursor partition past
//!   the topic's end yields the topic with no partitions.
//! - A requested topic that does not exist (only when topics are named) gets
//!   UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an invalid name) and no partitions,
//!   and uses none of the limit.
//! - Every topic in the response carries its authorized operations (`server::authz`); the
//!   eligible leader replicas, last known ELR and offline replicas are empty lists.

use std::collections::BTreeSet;
use std::ops::Range;

use super::metadata::is_internal_topic;
use super::str_bytes;
use crate::controller::{MetadataImage, validate_topic_name};
use crate::protocol::msg::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use crate::protocol::msg::{
    DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError, authz};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeTopicPartitions, VersionRange::new(0, 0))];

/// Kafka's default of `max.request.partition.size.limit`, the most partitions one response
/// carries whatever the client asks for (Gregor accepts the property but does not act on it).
pub const RESPONSE_PARTITIONS_MAX: i32 = 2000;

pub fn handle(
    broker: &Broker,
    request: DescribeTopicPartitionsRequest,
    _version: i16,
) -> DescribeTopicPartitionsResponse {
    let image = broker.image();
    let fetch_all = request.topics.is_empty();
    let cursor = request
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.to_string(), c.partition_index));
    let cursor_topic = cursor.as_ref().map(|(t, _)| t.as_str()).unwrap_or("");
    let names: BTreeSet<String> = if fetch_all {
        image
            .topics()
            .map(|t| t.name.clone())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.to_string())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect()
    };
    if !fetch_all && cursor.is_some() && !names.contains(cursor_topic) {
        return invalid_request(&request, cursor_topic);
    }
    let page = plan(
        &names,
        |name| image.topic(name).map(|t| t.partitions),
        cursor.as_ref().map(|(t, p)| (t.as_str(), *p)),
        request.response_partition_limit,
        fetch_all,
    );
    let mut response = DescribeTopicPartitionsResponse::default();
    response.topics = page
        .topics
        .iter()
        .map(|(name, partitions)| match partitions {
            Some(range) => topic_entry(
                &image,
                name,
                range
                    .clone()
                    .map(|p| partition_entry(broker, name, p))
                    .collect(),
            ),
            None => unknown_topic(name),
        })
        .collect();
    response.next_cursor = page.next.map(|(name, p)| cursor_at(name, p));
    for t in &mut response.topics {
        let name = t.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
        t.topic_authorized_operations = authz::topic_operations(name);
    }
    response
}

/// What one response answers: each topic with the partitions it carries (None: it does not
/// exist), and where the next page starts.
#[derive(Debug, PartialEq)]
struct Page<'a> {
    topics: Vec<(&'a str, Option<Range<i32>>)>,
    next: Option<(&'a str, i32)>,
}

/// Kafka's paging over `names` (sorted, deduplicated, none before the cursor's topic), given each
/// topic's partition count.
fn plan<'a>(
    names: &'a BTreeSet<String>,
    partition_count: impl Fn(&str) -> Option<i32>,
    cursor: Option<(&str, i32)>,
    limit: i32,
    fetch_all: bool,
) -> Page<'a> {
    let mut page = Page {
        topics: Vec::new(),
        next: None,
    };
    let mut remaining = limit.min(RESPONSE_PARTITIONS_MAX);
    for name in names {
        let name = name.as_str();
        if remaining == 0 {
            // The previous topics used the limit up exactly: the next page starts here.
            page.next = Some((name, 0));
            break;
        }
        if remaining < 0 {
            // Kafka answers nothing, and no cursor, for a negative limit.
            continue;
        }
        let start = match cursor {
            Some((topic, partition)) if topic == name => partition,
            _ => 0,
        };
        let Some(count) = partition_count(name) else {
            if !fetch_all {
                page.topics.push((name, None));
            }
            continue;
        };
        // Partitions below 0 do not exist, but a negative start still counts toward the end.
        let upper = count.min(start.saturating_add(remaining));
        let partitions = start.max(0)..upper.max(start.max(0));
        let used = partitions.len();
        page.topics.push((name, Some(partitions)));
        if upper < count {
            page.next = Some((name, upper));
            break;
        }
        remaining = remaining.saturating_sub(i32::try_from(used).unwrap_or(i32::MAX));
    }
    page
}

fn cursor_at(topic: &str, partition: i32) -> Cursor {
    let mut c = Cursor::default();
    c.topic_name = TopicName(str_bytes(topic));
    c.partition_index = partition;
    c
}

fn topic_entry(
    image: &MetadataImage,
    name: &str,
    partitions: Vec<DescribeTopicPartitionsResponsePartition>,
) -> DescribeTopicPartitionsResponseTopic {
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.name = Some(TopicName(str_bytes(name)));
    t.topic_id = image
        .topic(name)
        .map(|m| Uuid::from_bytes(m.topic_id().0))
        .unwrap_or_else(Uuid::nil);
    t.is_internal = is_internal_topic(name);
    t.partitions = partitions;
    t
}

fn unknown_topic(name: &str) -> DescribeTopicPartitionsResponseTopic {
    let error = match validate_topic_name(name) {
        Ok(()) => BrokerError::UnknownTopicOrPartition,
        Err(invalid) => BrokerError::Controller(invalid),
    };
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.error_code = error_code(&error);
    t.name = Some(TopicName(str_bytes(name)));
    t.topic_id = Uuid::nil();
    t.is_internal = is_internal_topic(name);
    t
}

fn partition_entry(
    broker: &Broker,
    topic: &str,
    index: i32,
) -> DescribeTopicPartitionsResponsePartition {
    let node = broker.node_id.0.into();
    let mut p = DescribeTopicPartitionsResponsePartition::default();
    p.partition_index = index;
    // A single node holds every replica of every partition, so all are in sync.
    p.replica_nodes = vec![node];
    p.isr_nodes = vec![node];
    match broker.partition(topic, index) {
        Ok(partition) => {
            p.leader_id = node;
            p.leader_epoch = partition.leader_epoch().0;
        }
        // Assigned here but not hosted (yet): Kafka reports no leader, without an error code.
        Err(_) => {
            p.leader_id = (-1).into();
            p.leader_epoch = -1;
        }
    }
    p.eligible_leader_replicas = Some(Vec::new());
    p.last_known_elr = Some(Vec::new());
    p.offline_replicas = Vec::new();
    p
}

/// Kafka's error response for the request as a whole: each requested topic, in request order,
/// with the error and nothing else.
fn invalid_request(
    request: &DescribeTopicPartitionsRequest,
    cursor_topic: &str,
) -> DescribeTopicPartitionsResponse {
    let error = BrokerError::InvalidRequest(format!(
        "DescribeTopicPartitionsRequest topic list should contain the cursor topic: {cursor_topic}"
    ));
    let mut response = DescribeTopicPartitionsResponse::default();
    response.topics = request
        .topics
        .iter()
        .map(|requested| {
            let mut t = DescribeTopicPartitionsResponseTopic::default();
            t.error_code = error_code(&error);
            t.name = Some(requested.name.clone());
            t
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn counts(name: &str) -> Option<i32> {
        match name {
            "a" => Some(3),
            "wide" => Some(2001),
            _ => None,
        }
    }

    #[test]
    fn the_limit_is_cut_to_max_request_partition_size_limit() {
        let n = names(&["wide"]);
        for limit in [2000, 2001, i32::MAX] {
            let page = plan(&n, counts, None, limit, false);
            assert_eq!(page.topics, [("wide", Some(0..2000))]);
            assert_eq!(page.next, Some(("wide", 2000)));
        }
        let page = plan(&n, counts, Some(("wide", 2000)), i32::MAX, false);
        assert_eq!(page.topics, [("wide", Some(2000..2001))]);
        assert_eq!(page.next, None);
    }

    #[test]
    fn odd_cursors_and_limits_page_as_kafka_does() {
        let n = names(&["a", "missing", "wide"]);
        // A negative limit answers nothing and points nowhere.
        assert_eq!(
            plan(&n, counts, None, -1, false),
            Page {
                topics: vec![],
                next: None
            }
        );
        // A cursor partition past the end: the topic with nothing, then on.
        let page = plan(&n, counts, Some(("a", 9)), 5, false);
        assert_eq!(
            page.topics,
            [("a", Some(9..9)), ("missing", None), ("wide", Some(0..5))]
        );
        assert_eq!(page.next, Some(("wide", 5)));
        // A unknown topic uses none of the limit, and is left out when listing every topic.
        let page = plan(&n, counts, None, 3, true);
        assert_eq!(page.topics, [("a", Some(0..3))]);
        assert_eq!(page.next, Some(("missing", 0)));
        // A cursor near i32::MAX does not overflow.
        let page = plan(&n, counts, Some(("a", i32::MAX)), 10, false);
        assert_eq!(page.topics[0], ("a", Some(i32::MAX..i32::MAX)));
    }
}
