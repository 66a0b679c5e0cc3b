//! ElectLeaders (KIP-460), AlterPartitionReassignments and ListPartitionReassignments (KIP-455):
//! the partition administration APIs, decided by the active controller.
//!
//! Contract: a broker that is not the active controller forwards the request whole to it over
//! the controller listener (as Kafka's brokers forward these APIs) and answers with what it
//! answered, after waiting (bounded) for its own image to show the change; on the active
//! controller (or on the controller listener) the request runs on this node's controller.
//! Per-partition outcomes carry Kafka's codes through `error_code.rs`: ELECTION_NOT_NEEDED,
//! PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, INVALID_REPLICA_ASSIGNMENT,
//! INVALID_REPLICATION_FACTOR (v1 with `allow_replication_factor_change` false),
//! NO_REASSIGNMENT_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION. A failure of the whole request
//! (NOT_CONTROLLER, the quorum not committing) is the top-level error code; ElectLeaders v0 has
//! none, so there every asked partition carries it. An unknown election type is
//! INVALID_REQUEST. ElectLeaders with null partitions elects for every partition and lists only
//! those that needed an election. ListPartitionReassignments lists the ongoing reassignments
//! (all, or those among the named partitions; unknown names are skipped, as Kafka does).

use super::{error_message, str_bytes};
use crate::controller::placement::ElectionType;
use crate::controller::service::PartitionOutcome;
use crate::protocol::msg::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use crate::protocol::msg::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use crate::protocol::msg::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use crate::protocol::msg::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ElectLeadersRequest,
    ElectLeadersResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    TopicName,
};
use crate::protocol::{ApiKey, Decodable, Encodable, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::peer::{self, Answer};
use crate::server::{Broker, BrokerError, CONTROLLER_CALL_DEADLINE_MS};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::ElectLeaders, VersionRange::new(0, 2)),
    (ApiKey::AlterPartitionReassignments, VersionRange::new(0, 1)),
    (ApiKey::ListPartitionReassignments, VersionRange::new(0, 0)),
];

/// The versions a broker forwards at (the newest of each).
const ELECT_LEADERS_FORWARD_VERSION: i16 = 2;
const ALTER_REASSIGNMENTS_FORWARD_VERSION: i16 = 1;
const LIST_REASSIGNMENTS_FORWARD_VERSION: i16 = 0;

async fn forward<Req: Encodable, Resp: Decodable>(
    broker: &Broker,
    api_key: ApiKey,
    version: i16,
    request: &Req,
    classify: impl Fn(&Resp) -> Answer,
) -> Result<Resp, BrokerError> {
    let resp = broker
        .channel
        .call(
            broker,
            api_key,
            version,
            request,
            CONTROLLER_CALL_DEADLINE_MS,
            classify,
        )
        .await?;
    broker.catch_up_with_controller().await;
    Ok(resp)
}

/// Groups per-partition outcomes by topic, in first-seen order.
fn by_topic<T>(
    outcomes: Vec<PartitionOutcome>,
    mut f: impl FnMut(i32, Option<BrokerError>) -> T,
) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for (topic, p, result) in outcomes {
        let item = f(p, result.err().map(BrokerError::from));
        match out.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, items)) => items.push(item),
            None => out.push((topic, vec![item])),
        }
    }
    out
}

pub async fn elect_leaders(
    broker: &Broker,
    request: ElectLeadersRequest,
    version: i16,
) -> ElectLeadersResponse {
    let mut response = elect_leaders_any_version(broker, request).await;
    if version == 0 {
        // v0 has no top-level code (the crate refuses to encode one); the partitions carry it.
        response.error_code = code::NONE;
    }
    response
}

async fn elect_leaders_any_version(
    broker: &Broker,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let asked: Option<Vec<(String, i32)>> = request.topic_partitions.as_ref().map(|tps| {
        tps.iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
            .collect()
    });
    if broker.must_forward() {
        let answer = forward(
            broker,
            ApiKey::ElectLeaders,
            ELECT_LEADERS_FORWARD_VERSION,
            &request,
            |r: &ElectLeadersResponse| peer::classify(Some(r.error_code)),
        )
        .await;
        return match answer {
            Ok(r) => r,
            Err(e) => elect_failure(&e, asked.as_deref()),
        };
    }
    // v0 has no election type: it is always PREFERRED (the field decodes as 0).
    let Some(election) = ElectionType::from_kafka(request.election_type) else {
        let e =
            BrokerError::InvalidRequest(format!("unknown election type {}", request.election_type));
        return elect_failure(&e, asked.as_deref());
    };
    match broker
        .controller
        .elect_leaders(election, asked.clone())
        .await
    {
        Ok(outcomes) => {
            broker.publish().await;
            let mut response = ElectLeadersResponse::default();
            response.replica_election_results = by_topic(outcomes, |p, r| {
                let mut pr = PartitionResult::default();
                pr.partition_id = p;
                pr.error_message = None;
                if let Some(e) = r {
                    pr.error_code = error_code(&e);
                    pr.error_message = error_message(&e);
                }
                pr
            })
            .into_iter()
            .map(|(topic, partition_result)| {
                let mut t = ReplicaElectionResult::default();
                t.topic = TopicName(str_bytes(&topic));
                t.partition_result = partition_result;
                t
            })
            .collect();
            response
        }
        Err(e) => elect_failure(&BrokerError::from(e), asked.as_deref()),
    }
}

/// A whole-request failure: the top-level code (v1+), and on every asked partition too (v0 has
/// no top-level code, and a forwarded answer may be read at v0).
fn elect_failure(e: &BrokerError, asked: Option<&[(String, i32)]>) -> ElectLeadersResponse {
    let mut response = ElectLeadersResponse::default();
    response.error_code = error_code(e);
    {
        let outcomes: Vec<(String, i32)> = asked.map(<[_]>::to_vec).unwrap_or_default();
        let mut grouped: Vec<(String, Vec<i32>)> = Vec::new();
        for (t, p) in outcomes {
            match grouped.iter_mut().find(|(x, _)| *x == t) {
                Some((_, ps)) => ps.push(p),
                None => grouped.push((t, vec![p])),
            }
        }
        response.replica_election_results = grouped
            .into_iter()
            .map(|(topic, ps)| {
                let mut t = ReplicaElectionResult::default();
                t.topic = TopicName(str_bytes(&topic));
                t.partition_result = ps
                    .into_iter()
                    .map(|p| {
                        let mut pr = PartitionResult::default();
                        pr.partition_id = p;
                        pr.error_code = error_code(e);
                        pr.error_message = error_message(e);
                        pr
                    })
                    .collect();
                t
            })
            .collect();
    }
    response
}

pub async fn alter_partition_reassignments(
    broker: &Broker,
    request: AlterPartitionReassignmentsRequest,
    version: i16,
) -> AlterPartitionReassignmentsResponse {
    // v0 has no such field: Kafka lets it change the replication factor.
    let allow_rf_change = version == 0 || request.allow_replication_factor_change;
    if broker.must_forward() {
        let mut forwarded = request.clone();
        forwarded.allow_replication_factor_change = allow_rf_change;
        let answer = forward(
            broker,
            ApiKey::AlterPartitionReassignments,
            ALTER_REASSIGNMENTS_FORWARD_VERSION,
            &forwarded,
            |r: &AlterPartitionReassignmentsResponse| peer::classify(Some(r.error_code)),
        )
        .await;
        return match answer {
            Ok(mut r) => {
                r.allow_replication_factor_change = allow_rf_change;
                r
            }
            Err(e) => alter_failure(&e, &request, allow_rf_change),
        };
    }
    let items: Vec<(String, i32, Option<Vec<i32>>)> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.replicas
                        .as_ref()
                        .map(|rs| rs.iter().map(|b| b.0).collect()),
                )
            })
        })
        .collect();
    match broker
        .controller
        .alter_partition_reassignments(items, allow_rf_change)
        .await
    {
        Ok(outcomes) => {
            broker.publish().await;
            let mut response = AlterPartitionReassignmentsResponse::default();
            response.allow_replication_factor_change = allow_rf_change;
            response.error_message = None;
            response.responses = by_topic(outcomes, |p, r| {
                let mut pr = ReassignablePartitionResponse::default();
                pr.partition_index = p;
                pr.error_message = None;
                if let Some(e) = r {
                    pr.error_code = error_code(&e);
                    pr.error_message = error_message(&e);
                }
                pr
            })
            .into_iter()
            .map(|(topic, partitions)| {
                let mut t = ReassignableTopicResponse::default();
                t.name = TopicName(str_bytes(&topic));
                t.partitions = partitions;
                t
            })
            .collect();
            response
        }
        Err(e) => alter_failure(&BrokerError::from(e), &request, allow_rf_change),
    }
}

fn alter_failure(
    e: &BrokerError,
    request: &AlterPartitionReassignmentsRequest,
    allow_rf_change: bool,
) -> AlterPartitionReassignmentsResponse {
    let mut response = AlterPartitionReassignmentsResponse::default();
    response.allow_replication_factor_change = allow_rf_change;
    response.error_code = error_code(e);
    response.error_message = error_message(e);
    response.responses = request
        .topics
        .iter()
        .map(|t| {
            let mut out = ReassignableTopicResponse::default();
            out.name = t.name.clone();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut pr = ReassignablePartitionResponse::default();
                    pr.partition_index = p.partition_index;
                    pr.error_code = error_code(e);
                    pr.error_message = error_message(e);
                    pr
                })
                .collect();
            out
        })
        .collect();
    response
}

pub async fn list_partition_reassignments(
    broker: &Broker,
    request: ListPartitionReassignmentsRequest,
    _version: i16,
) -> ListPartitionReassignmentsResponse {
    if broker.must_forward() {
        let answer = forward(
            broker,
            ApiKey::ListPartitionReassignments,
            LIST_REASSIGNMENTS_FORWARD_VERSION,
            &request,
            |r: &ListPartitionReassignmentsResponse| peer::classify(Some(r.error_code)),
        )
        .await;
        return answer.unwrap_or_else(|e| {
            let mut response = ListPartitionReassignmentsResponse::default();
            response.error_code = error_code(&e);
            response.error_message = error_message(&e);
            response
        });
    }
    let mut response = ListPartitionReassignmentsResponse::default();
    response.error_message = None;
    if !broker.controller.is_active() {
        let e = BrokerError::Controller(crate::controller::ControllerError::NotController {
            leader: broker.controller.active_controller(),
        });
        response.error_code = code::NOT_CONTROLLER;
        response.error_message = error_message(&e);
        return response;
    }
    let img = broker.image();
    let wanted: Vec<(String, Option<Vec<i32>>)> = match &request.topics {
        Some(ts) => ts
            .iter()
            .map(|t| (t.name.0.to_string(), Some(t.partition_indexes.clone())))
            .collect(),
        None => {
            let mut names: Vec<String> = img.topics().map(|t| t.name.clone()).collect();
            names.sort();
            names.into_iter().map(|n| (n, None)).collect()
        }
    };
    for (name, partitions) in wanted {
        let Some(meta) = img.topic(&name) else {
            continue;
        };
        let Some(parts) = img.partitions(meta.topic_id()) else {
            continue;
        };
        let ongoing: Vec<OngoingPartitionReassignment> = parts
            .iter()
            .filter(|(p, s)| {
                s.is_reassigning() && partitions.as_ref().is_none_or(|ps| ps.contains(p))
            })
            .map(|(p, s)| {
                let mut o = OngoingPartitionReassignment::default();
                o.partition_index = *p;
                o.replicas = s.replicas.iter().map(|b| (*b).into()).collect();
                o.adding_replicas = s.adding_replicas.iter().map(|b| (*b).into()).collect();
                o.removing_replicas = s.removing_replicas.iter().map(|b| (*b).into()).collect();
                o
            })
            .collect();
        if !ongoing.is_empty() {
            let mut t = OngoingTopicReassignment::default();
            t.name = TopicName(str_bytes(&name));
            t.partitions = ongoing;
            response.topics.push(t);
        }
    }
    response
}
