//! Consumer-group APIs: FindCoordinator, the classic protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup), KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe, committed offsets
//! (OffsetCommit, OffsetFetch, OffsetDelete) and group administration (DescribeGroups,
//! ListGroups, DeleteGroups).
//!
//! Contract: these handlers only translate between wire messages and `group::GroupCoordinator`;
//! every decision is the coordinator's. This broker coordinates every group; the offsets topic is
//! created on first use.

use std::sync::Arc;

use super::{ConnectionState, str_bytes};
use crate::group::GroupError;
use crate::group::classic::{JoinRequest, SyncRequest};
use crate::group::consumer::HeartbeatRequest as ConsumerHeartbeat;
use crate::group::coordinator::CommitPartition;
use crate::model::TopicId;
use crate::protocol::msg::*;
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::FindCoordinator, VersionRange::new(0, 6)),
    (ApiKey::JoinGroup, VersionRange::new(0, 9)),
    (ApiKey::SyncGroup, VersionRange::new(0, 5)),
    (ApiKey::Heartbeat, VersionRange::new(0, 4)),
    (ApiKey::LeaveGroup, VersionRange::new(0, 5)),
    (ApiKey::OffsetCommit, VersionRange::new(0, 9)),
    (ApiKey::OffsetFetch, VersionRange::new(0, 9)),
    (ApiKey::DescribeGroups, VersionRange::new(0, 6)),
    (ApiKey::ListGroups, VersionRange::new(0, 5)),
    (ApiKey::DeleteGroups, VersionRange::new(0, 2)),
    (ApiKey::OffsetDelete, VersionRange::new(0, 0)),
    (ApiKey::ConsumerGroupHeartbeat, VersionRange::new(0, 1)),
    (ApiKey::ConsumerGroupDescribe, VersionRange::new(0, 1)),
];

const KEY_TYPE_GROUP: i8 = 0;

fn gcode(e: &GroupError) -> i16 {
    error_code(&BrokerError::Group(e.clone()))
}

fn opt_str(s: Option<StrBytes>) -> Option<String> {
    s.map(|s| s.to_string())
}

pub async fn find_coordinator(
    broker: &Arc<Broker>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let mut response = FindCoordinatorResponse::default();
    let ready = broker.ensure_offsets_topic().await;
    let brokers = super::metadata::live_brokers(broker);
    let image = broker.image();
    // The coordinator of a group is the leader of its `__consumer_offsets` partition.
    let answer = |key_type: i8, key: &str| -> Result<(i32, String, i32), BrokerError> {
        if key_type != KEY_TYPE_GROUP {
            return Err(BrokerError::TransactionsUnsupported);
        }
        ready
            .as_ref()
            .map_err(|e| BrokerError::InvalidRequest(e.to_string()))?;
        let p = broker.groups.partition_for(key);
        let leader = image
            .topic(crate::group::coordinator::OFFSETS_TOPIC)
            .and_then(|t| image.partition(t.topic_id(), p))
            .map(|s| s.leader)
            .unwrap_or(-1);
        brokers
            .iter()
            .find(|b| b.0 == leader)
            .map(|b| (b.0, b.1.clone(), b.2))
            .ok_or_else(|| {
                BrokerError::InvalidRequest(format!(
                    "partition {p} of the offsets topic has no live leader"
                ))
            })
    };
    if version >= 4 {
        for key in request.coordinator_keys {
            let mut c = find_coordinator_response::Coordinator::default();
            let found = answer(request.key_type, key.as_str());
            c.key = key;
            match found {
                Ok((id, host, port)) => {
                    c.node_id = id.into();
                    c.host = str_bytes(&host);
                    c.port = port;
                }
                Err(e) => {
                    c.error_code = coordinator_code(&e);
                    c.error_message = Some(str_bytes(&e.to_string()));
                    c.node_id = (-1).into();
                    c.port = -1;
                }
            }
            response.coordinators.push(c);
        }
    } else {
        match answer(request.key_type, request.key.as_str()) {
            Ok((id, host, port)) => {
                response.node_id = id.into();
                response.host = str_bytes(&host);
                response.port = port;
                // Kafka sends `Errors.NONE.message()` here.
                if version >= 1 {
                    response.error_message = Some(str_bytes("NONE"));
                }
            }
            Err(e) => {
                response.error_code = coordinator_code(&e);
                if version >= 1 {
                    response.error_message = Some(str_bytes(&e.to_string()));
                }
                response.node_id = (-1).into();
                response.port = -1;
            }
        }
    }
    response
}

/// "The offsets topic cannot be created" is retriable for a client: COORDINATOR_NOT_AVAILABLE.
/// A transactional id gets a code no client retries (see `BrokerError::TransactionsUnsupported`).
fn coordinator_code(e: &BrokerError) -> i16 {
    match e {
        BrokerError::TransactionsUnsupported => error_code(e),
        _ => code::COORDINATOR_NOT_AVAILABLE,
    }
}

pub async fn join_group(
    broker: &Arc<Broker>,
    state: &ConnectionState,
    request: JoinGroupRequest,
    version: i16,
) -> JoinGroupResponse {
    let req = JoinRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: opt_str(request.group_instance_id),
        client_id: state.client_id.clone(),
        client_host: state.client_host(),
        session_timeout_ms: request.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        },
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        reason: opt_str(request.reason),
    };
    let view = broker.topic_view();
    let r = broker.groups.join(&request.group_id, req, &view).await;
    tracing::debug!(group = %request.group_id.0, member = %r.member_id, generation = r.generation_id, error = ?r.error, leader = %r.leader, members = r.members.len(), "JoinGroup answered");
    let mut response = JoinGroupResponse::default();
    response.error_code = r.error.as_ref().map(gcode).unwrap_or(code::NONE);
    response.generation_id = r.generation_id;
    // Fields newer than the request's version stay at their defaults (the encoder refuses them).
    if version >= 7 {
        response.protocol_type = r.protocol_type.as_deref().map(str_bytes);
    }
    response.protocol_name = r.protocol_name.as_deref().map(str_bytes);
    response.leader = str_bytes(&r.leader);
    // KIP-814: only v9+ can tell a rejoining static leader to keep the current assignment; an
    // older leader gets the member list, assigns again, and a Stable group hands every member its
    // stored assignment at SyncGroup anyway.
    response.skip_assignment = version >= 9 && r.skip_assignment;
    response.member_id = str_bytes(&r.member_id);
    response.members = r
        .members
        .into_iter()
        .map(|m| {
            let mut jm = join_group_response::JoinGroupResponseMember::default();
            jm.member_id = str_bytes(&m.member_id);
            jm.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
            jm.metadata = m.metadata;
            jm
        })
        .collect();
    // Before v6 a null protocol name is not representable; Kafka sends an empty string.
    if version < 7 && response.protocol_name.is_none() {
        response.protocol_name = Some(StrBytes::default());
    }
    response
}

pub async fn sync_group(
    broker: &Arc<Broker>,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let req = SyncRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: opt_str(request.group_instance_id),
        generation_id: request.generation_id,
        protocol_type: opt_str(request.protocol_type),
        protocol_name: opt_str(request.protocol_name),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let r = broker.groups.sync(&request.group_id, req).await;
    tracing::debug!(group = %request.group_id.0, member = %request.member_id, error = ?r.error, assignment_bytes = r.assignment.len(), "SyncGroup answered");
    let mut response = SyncGroupResponse::default();
    response.error_code = r.error.as_ref().map(gcode).unwrap_or(code::NONE);
    if version >= 5 {
        response.protocol_type = r.protocol_type.as_deref().map(str_bytes);
        response.protocol_name = r.protocol_name.as_deref().map(str_bytes);
    }
    response.assignment = r.assignment;
    response
}

pub async fn heartbeat(
    broker: &Arc<Broker>,
    request: HeartbeatRequest,
    _version: i16,
) -> HeartbeatResponse {
    let r = broker
        .groups
        .heartbeat(
            &request.group_id,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        )
        .await;
    if let Err(e) = &r {
        tracing::debug!(group = %request.group_id.0, member = %request.member_id, error = %e, "Heartbeat refused");
    }
    let mut response = HeartbeatResponse::default();
    response.error_code = r.err().as_ref().map(gcode).unwrap_or(code::NONE);
    response
}

pub async fn leave_group(
    broker: &Arc<Broker>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    opt_str(m.group_instance_id.clone()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let mut response = LeaveGroupResponse::default();
    match broker
        .groups
        .leave(&request.group_id, members.clone())
        .await
    {
        Ok(results) => {
            if version >= 3 {
                response.members = members
                    .into_iter()
                    .zip(results)
                    .map(|((member_id, instance), r)| {
                        let mut m = leave_group_response::MemberResponse::default();
                        m.member_id = str_bytes(&member_id);
                        m.group_instance_id = instance.as_deref().map(str_bytes);
                        m.error_code = r.err().as_ref().map(gcode).unwrap_or(code::NONE);
                        m
                    })
                    .collect();
            } else if let Some(Err(e)) = results.first() {
                response.error_code = gcode(e);
            }
        }
        Err(e) => response.error_code = gcode(&e),
    }
    response
}

pub async fn offset_commit(
    broker: &Arc<Broker>,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    // As Kafka's handleOffsetCommitRequest: a partition the metadata does not know is answered
    // UNKNOWN_TOPIC_OR_PARTITION here and never reaches the coordinator (so a commit made only
    // of unknown partitions creates no group). TxnOffsetCommit, when transactions arrive, must
    // check the same way (Kafka's handleTxnOffsetCommitRequest does).
    let image = broker.image();
    let known = |topic: &str, partition: i32| {
        image
            .topic(topic)
            .is_some_and(|t| (0..t.partitions).contains(&partition))
    };
    let partitions: Vec<CommitPartition> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .filter(|p| known(t.name.0.as_str(), p.partition_index))
                .map(move |p| CommitPartition {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                })
        })
        .collect();
    let result = if partitions.is_empty() {
        Ok(Vec::new())
    } else {
        broker
            .groups
            .commit_offsets_at(
                version,
                &request.group_id,
                &request.member_id,
                request.group_instance_id.as_deref(),
                request.generation_id_or_member_epoch,
                partitions,
            )
            .await
    };
    let mut codes = match &result {
        Ok(per) => per
            .iter()
            .map(|r| r.as_ref().err().map(gcode).unwrap_or(code::NONE))
            .collect::<Vec<_>>()
            .into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    let all = result.as_ref().err().map(gcode);
    let mut response = OffsetCommitResponse::default();
    for t in request.topics {
        let mut out = offset_commit_response::OffsetCommitResponseTopic::default();
        for p in t.partitions {
            let mut pr = offset_commit_response::OffsetCommitResponsePartition::default();
            pr.partition_index = p.partition_index;
            pr.error_code = if !known(t.name.0.as_str(), p.partition_index) {
                code::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                all.unwrap_or_else(|| codes.next().unwrap_or(code::NONE))
            };
            out.partitions.push(pr);
        }
        out.name = t.name;
        response.topics.push(out);
    }
    response
}

pub async fn offset_fetch(
    broker: &Arc<Broker>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    if version >= 8 {
        for g in request.groups {
            let topics = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes))
                    .collect()
            });
            let mut out = offset_fetch_response::OffsetFetchResponseGroup::default();
            out.group_id = g.group_id.clone();
            match broker.groups.fetch_offsets(&g.group_id, topics) {
                Ok(offsets) => {
                    for (topic, partition, v) in offsets {
                        if out.topics.last().is_none_or(|t| t.name.0.as_str() != topic) {
                            let mut t = offset_fetch_response::OffsetFetchResponseTopics::default();
                            t.name = TopicName(str_bytes(&topic));
                            out.topics.push(t);
                        }
                        let mut p = offset_fetch_response::OffsetFetchResponsePartitions::default();
                        p.partition_index = partition;
                        (p.committed_offset, p.committed_leader_epoch, p.metadata) = match v {
                            Some(v) => (v.offset, v.leader_epoch, Some(str_bytes(&v.metadata))),
                            None => (-1, -1, Some(StrBytes::default())),
                        };
                        if let Some(t) = out.topics.last_mut() {
                            t.partitions.push(p);
                        }
                    }
                }
                Err(e) => out.error_code = gcode(&e),
            }
            response.groups.push(out);
        }
        return response;
    }
    let request_topics = if version < 2 {
        request.topics.clone()
    } else {
        None
    };
    let topics = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    match broker.groups.fetch_offsets(&request.group_id, topics) {
        Ok(offsets) => {
            for (topic, partition, v) in offsets {
                if response
                    .topics
                    .last()
                    .is_none_or(|t| t.name.0.as_str() != topic)
                {
                    let mut t = offset_fetch_response::OffsetFetchResponseTopic::default();
                    t.name = TopicName(str_bytes(&topic));
                    response.topics.push(t);
                }
                let mut p = offset_fetch_response::OffsetFetchResponsePartition::default();
                p.partition_index = partition;
                (p.committed_offset, p.committed_leader_epoch, p.metadata) = match v {
                    Some(v) => (v.offset, v.leader_epoch, Some(str_bytes(&v.metadata))),
                    None => (-1, -1, Some(StrBytes::default())),
                };
                if let Some(t) = response.topics.last_mut() {
                    t.partitions.push(p);
                }
            }
        }
        // v0-1 have no group-level error code: Kafka puts it on every requested partition.
        Err(e) if version < 2 => {
            for t in request_topics.into_iter().flatten() {
                let mut out = offset_fetch_response::OffsetFetchResponseTopic::default();
                out.name = t.name;
                for p in t.partition_indexes {
                    let mut pr = offset_fetch_response::OffsetFetchResponsePartition::default();
                    pr.partition_index = p;
                    pr.committed_offset = -1;
                    pr.committed_leader_epoch = -1;
                    pr.metadata = Some(StrBytes::default());
                    pr.error_code = gcode(&e);
                    out.partitions.push(pr);
                }
                response.topics.push(out);
            }
        }
        Err(e) => response.error_code = gcode(&e),
    }
    response
}

pub fn describe_groups(
    broker: &Arc<Broker>,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    // Kafka answers the operations from v3, and only for groups described without error.
    let operations = version >= 3 && request.include_authorized_operations;
    let mut response = DescribeGroupsResponse::default();
    for id in request.groups {
        let mut g = describe_groups_response::DescribedGroup::default();
        g.group_id = id.clone();
        match broker.groups.describe_classic(&id) {
            Ok(Some(d)) => {
                g.group_state = str_bytes(&d.state);
                g.protocol_type = str_bytes(&d.protocol_type);
                g.protocol_data = str_bytes(&d.protocol);
                g.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut dm = describe_groups_response::DescribedGroupMember::default();
                        dm.member_id = str_bytes(&m.member_id);
                        dm.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
                        dm.client_id = str_bytes(&m.client_id);
                        dm.client_host = str_bytes(&m.client_host);
                        dm.member_metadata = m.metadata;
                        dm.member_assignment = m.assignment;
                        dm
                    })
                    .collect();
            }
            Ok(None) => dead_group(&mut g, version, format!("Group {} not found.", id.0)),
            Err(e @ GroupError::NotClassicGroup(_)) => dead_group(&mut g, version, e.to_string()),
            Err(e) => g.error_code = gcode(&e),
        }
        if operations && g.error_code == code::NONE {
            g.authorized_operations = crate::server::authz::group_operations(&g.group_id);
        }
        response.groups.push(g);
    }
    response
}

/// KIP-1043: from v6 an unknown group, or one of another type, is GROUP_ID_NOT_FOUND with
/// Kafka's message; before, a Dead group without an error.
fn dead_group(g: &mut describe_groups_response::DescribedGroup, version: i16, message: String) {
    g.group_state = str_bytes("Dead");
    if version >= 6 {
        g.error_code = gcode(&GroupError::GroupIdNotFound);
        g.error_message = Some(str_bytes(&message));
    }
}

pub fn list_groups(
    broker: &Arc<Broker>,
    request: ListGroupsRequest,
    _version: i16,
) -> ListGroupsResponse {
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_string())
        .collect();
    let types: Vec<String> = request.types_filter.iter().map(|s| s.to_string()).collect();
    let mut response = ListGroupsResponse::default();
    response.groups = broker
        .groups
        .list_groups(&states, &types)
        .into_iter()
        .map(|l| {
            let mut g = list_groups_response::ListedGroup::default();
            g.group_id = GroupId(str_bytes(&l.group_id));
            g.protocol_type = str_bytes(&l.protocol_type);
            g.group_state = str_bytes(&l.state);
            g.group_type = str_bytes(&l.group_type);
            g
        })
        .collect();
    response
}

pub async fn delete_groups(
    broker: &Arc<Broker>,
    request: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut response = DeleteGroupsResponse::default();
    for id in request.groups_names {
        let mut r = delete_groups_response::DeletableGroupResult::default();
        r.error_code = broker
            .groups
            .delete_group(&id)
            .await
            .err()
            .as_ref()
            .map(gcode)
            .unwrap_or(code::NONE);
        r.group_id = id;
        response.results.push(r);
    }
    response
}

pub async fn offset_delete(
    broker: &Arc<Broker>,
    request: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let view = broker.topic_view();
    // As Kafka's handleOffsetDeleteRequest: partitions of topics the metadata does not know are
    // answered UNKNOWN_TOPIC_OR_PARTITION without asking the coordinator.
    let (known, unknown): (Vec<_>, Vec<_>) = request
        .topics
        .iter()
        .partition(|t| view.0.topic(t.name.0.as_str()).is_some());
    let partitions: Vec<(String, i32)> = known
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index))
        })
        .collect();
    let mut response = OffsetDeleteResponse::default();
    for t in unknown {
        let mut out = offset_delete_response::OffsetDeleteResponseTopic::default();
        out.name = t.name.clone();
        for p in &t.partitions {
            let mut pr = offset_delete_response::OffsetDeleteResponsePartition::default();
            pr.partition_index = p.partition_index;
            pr.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
            out.partitions.push(pr);
        }
        response.topics.push(out);
    }
    match broker
        .groups
        .delete_offsets(&request.group_id, partitions, &view)
        .await
    {
        Ok(results) => {
            for (topic, partition, r) in results {
                if response
                    .topics
                    .last()
                    .is_none_or(|t| t.name.0.as_str() != topic)
                {
                    let mut t = offset_delete_response::OffsetDeleteResponseTopic::default();
                    t.name = TopicName(str_bytes(&topic));
                    response.topics.push(t);
                }
                let mut p = offset_delete_response::OffsetDeleteResponsePartition::default();
                p.partition_index = partition;
                p.error_code = r.err().as_ref().map(gcode).unwrap_or(code::NONE);
                if let Some(t) = response.topics.last_mut() {
                    t.partitions.push(p);
                }
            }
        }
        Err(e) => response.error_code = gcode(&e),
    }
    response
}

fn to_wire_assignment(
    parts: Vec<(TopicId, Vec<i32>)>,
) -> consumer_group_heartbeat_response::Assignment {
    let mut a = consumer_group_heartbeat_response::Assignment::default();
    a.topic_partitions = parts
        .into_iter()
        .map(|(id, partitions)| {
            let mut tp = consumer_group_heartbeat_response::TopicPartitions::default();
            tp.topic_id = Uuid::from_bytes(id.0);
            tp.partitions = partitions;
            tp
        })
        .collect();
    a
}

pub async fn consumer_group_heartbeat(
    broker: &Arc<Broker>,
    state: &ConnectionState,
    request: ConsumerGroupHeartbeatRequest,
    _version: i16,
) -> ConsumerGroupHeartbeatResponse {
    let _ = broker.ensure_offsets_topic().await;
    let req = ConsumerHeartbeat {
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: opt_str(request.instance_id),
        rack_id: opt_str(request.rack_id),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .map(|ts| ts.into_iter().map(|t| t.0.to_string()).collect()),
        subscribed_topic_regex: opt_str(request.subscribed_topic_regex),
        server_assignor: opt_str(request.server_assignor),
        owned: request.topic_partitions.map(|ts| {
            ts.into_iter()
                .map(|t| (TopicId(*t.topic_id.as_bytes()), t.partitions))
                .collect()
        }),
        client_id: state.client_id.clone(),
        client_host: state.client_host(),
    };
    let view = broker.topic_view();
    let mut response = ConsumerGroupHeartbeatResponse::default();
    match broker
        .groups
        .consumer_heartbeat(&request.group_id, req, &view)
        .await
    {
        Ok(r) => {
            response.member_id = Some(str_bytes(&r.member_id));
            response.member_epoch = r.member_epoch;
            response.heartbeat_interval_ms = r.heartbeat_interval_ms;
            response.assignment = r.assignment.map(to_wire_assignment);
        }
        Err(e) => {
            response.error_code = gcode(&e);
            response.error_message = Some(str_bytes(&e.to_string()));
        }
    }
    response
}

pub fn consumer_group_describe(
    broker: &Arc<Broker>,
    request: ConsumerGroupDescribeRequest,
    _version: i16,
) -> ConsumerGroupDescribeResponse {
    let view = broker.topic_view();
    let image = broker.image();
    let wire = |parts: &[(TopicId, Vec<i32>)]| {
        let mut a = consumer_group_describe_response::Assignment::default();
        a.topic_partitions = parts
            .iter()
            .map(|(id, partitions)| {
                let mut tp = consumer_group_describe_response::TopicPartitions::default();
                tp.topic_id = Uuid::from_bytes(id.0);
                tp.topic_name = TopicName(str_bytes(
                    image
                        .topic_by_id(*id)
                        .map(|t| t.name.as_str())
                        .unwrap_or(""),
                ));
                tp.partitions = partitions.clone();
                tp
            })
            .collect();
        a
    };
    let mut response = ConsumerGroupDescribeResponse::default();
    for id in request.group_ids {
        let mut g = consumer_group_describe_response::DescribedGroup::default();
        g.group_id = id.clone();
        match broker.groups.describe_consumer(&id, &view) {
            Ok(d) => {
                g.group_state = str_bytes(&d.state);
                g.group_epoch = d.group_epoch;
                g.assignment_epoch = d.assignment_epoch;
                g.assignor_name = str_bytes(&d.assignor_name);
                g.members = d
                    .members
                    .iter()
                    .map(|m| {
                        let mut wm = consumer_group_describe_response::Member::default();
                        wm.member_id = str_bytes(&m.member_id);
                        wm.instance_id = m.instance_id.as_deref().map(str_bytes);
                        wm.rack_id = m.rack_id.as_deref().map(str_bytes);
                        wm.member_epoch = m.member_epoch;
                        wm.client_id = str_bytes(&m.client_id);
                        wm.client_host = str_bytes(&m.client_host);
                        wm.subscribed_topic_names = m
                            .subscribed_topic_names
                            .iter()
                            .map(|t| TopicName(str_bytes(t)))
                            .collect();
                        wm.subscribed_topic_regex =
                            m.subscribed_topic_regex.as_deref().map(str_bytes);
                        wm.assignment = wire(&m.assignment);
                        wm.target_assignment = wire(&m.target_assignment);
                        // v1: 0 for a classic member of a converted group, 1 for the consumer
                        // protocol.
                        wm.member_type = if m.classic { 0 } else { 1 };
                        wm
                    })
                    .collect();
            }
            Err(e) => {
                g.error_code = gcode(&e);
                g.error_message = Some(str_bytes(&e.to_string()));
            }
        }
        // As DescribeGroups: only groups described without error carry their operations.
        if request.include_authorized_operations && g.error_code == code::NONE {
            g.authorized_operations = crate::server::authz::group_operations(&g.group_id);
        }
        response.groups.push(g);
    }
    response
}
