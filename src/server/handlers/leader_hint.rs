//! KIP-951 leader hints: a Produce (v10+) or Fetch (v16+) partition answered
//! NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH carries the leader and leader epoch this node's
//! image knows, and the response lists that leader's endpoint, so a client re-routes without a
//! Metadata round trip.
//!
//! Contract: hints come from the image only (never a remote call); a partition with no leader, or
//! a leader this node does not know as a live broker, gets no hint (leader -1, epoch -1, as Kafka
//! answers). Endpoints are those of the listener the request arrived on (`live_brokers`), each
//! leader once, sorted by node id.

use std::collections::BTreeSet;

use super::metadata::live_brokers;
use crate::controller::records::NO_LEADER;
use crate::server::Broker;
use crate::server::error_code::code;

/// Produce v10 added `CurrentLeader` and `NodeEndpoints`.
pub const PRODUCE_VERSION_MIN: i16 = 10;
/// Fetch v16 added them.
pub const FETCH_VERSION_MIN: i16 = 16;

/// Whether a partition error is one KIP-951 answers with the current leader.
pub fn wants_hint(error_code: i16) -> bool {
    error_code == code::NOT_LEADER_OR_FOLLOWER || error_code == code::FENCED_LEADER_EPOCH
}

/// The leader and leader epoch this node's image holds for the partition, when it has a leader.
pub fn current_leader(broker: &Broker, topic: &str, partition: i32) -> Option<(i32, i32)> {
    let image = broker.image();
    let meta = image.topic(topic)?;
    let state = image.partition(meta.topic_id(), partition)?;
    (state.leader != NO_LEADER).then_some((state.leader, state.leader_epoch))
}

/// One live broker's endpoint at this request's listener: (node id, host, port, rack).
pub type Endpoint = (i32, String, i32, Option<String>);

/// The endpoints of `leaders` among the live brokers, each once.
pub fn endpoints(broker: &Broker, leaders: &BTreeSet<i32>) -> Vec<Endpoint> {
    if leaders.is_empty() {
        return Vec::new();
    }
    live_brokers(broker)
        .into_iter()
        .filter(|b| leaders.contains(&b.0))
        .collect()
}

/// The response's `node_endpoints` for the hinted leaders, as the API's own `NodeEndpoint` type
/// (Produce and Fetch each generate one).
#[macro_export]
macro_rules! node_endpoints {
    ($broker:expr, $leaders:expr, $ty:ty) => {{
        let leaders: &::std::collections::BTreeSet<i32> = $leaders;
        // The common answer hints nothing: no iterator to build and collect on that path.
        if leaders.is_empty() {
            Vec::new()
        } else {
            $crate::server::handlers::leader_hint::endpoints($broker, leaders)
                .into_iter()
                .map(|(id, host, port, rack)| {
                    let mut e = <$ty>::default();
                    e.node_id = id.into();
                    e.host = $crate::server::handlers::str_bytes(&host);
                    e.port = port;
                    e.rack = rack.as_deref().map($crate::server::handlers::str_bytes);
                    e
                })
                .collect()
        }
    }};
}
