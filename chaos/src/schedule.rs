//! Seeded fault schedules: what happens to the cluster, when, and for how long.
//!
//! Contract: `generate(seed, ..)` is a pure function of its arguments (ChaCha8 from the seed), so
//! a seed names the same schedule on every machine and every run. Targets such as "the leader of
//! partition 2" are resolved when the fault starts, against the cluster as it is then; timing is
//! on the wall clock of the run, so the interleaving with client traffic is not reproducible to
//! the millisecond, but the faults, their order, their targets' roles and their durations are.

use std::fmt;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Whom a fault hits, resolved when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The node leading this partition of the idempotent stream's topic.
    LeaderOf(i32),
    /// The active controller (the Raft leader of the metadata quorum).
    ActiveController,
    /// A node by id.
    Node(i32),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::LeaderOf(p) => write!(f, "leader of p{p}"),
            Target::ActiveController => write!(f, "active controller"),
            Target::Node(id) => write!(f, "node {id}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `kill -9` of the in-process node (its tasks aborted, nothing flushed or marked clean),
    /// restarted on its data when the fault ends.
    Kill,
    /// SIGTERM's path: controlled shutdown, a clean stop, restarted when the fault ends.
    Stop,
    /// Cut off from every other node, both ways (clients still reach it), healed when the fault
    /// ends: with three nodes, the minority side of a majority/minority split.
    Isolate,
    /// One way: the node's own connections to its peers fail (replica fetches, broker
    /// heartbeats, Raft messages it sends) while the peers' connections to it work.
    CutOutbound,
    /// One way, the mirror: the peers' connections to the node fail, its own work.
    CutInbound,
    /// The wall clock of every node steps by `jump_ms` (an NTP step); it stays stepped.
    ClockJump { jump_ms: i64 },
}

impl FaultKind {
    /// The links the fault cuts while it lasts: (outbound, inbound).
    pub fn cuts(self) -> (bool, bool) {
        match self {
            FaultKind::Isolate => (true, true),
            FaultKind::CutOutbound => (true, false),
            FaultKind::CutInbound => (false, true),
            _ => (false, false),
        }
    }

    /// A short name, for totals.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill -9",
            FaultKind::Stop => "stops",
            FaultKind::Isolate => "isolations",
            FaultKind::CutOutbound => "outbound cuts",
            FaultKind::CutInbound => "inbound cuts",
            FaultKind::ClockJump { .. } => "clock steps",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// When it starts, from the start of the workload.
    pub at_ms: u64,
    /// How long it lasts (not used by a clock jump).
    pub for_ms: u64,
    pub kind: FaultKind,
    pub target: Target,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FaultKind::Kill => "kill -9",
            FaultKind::Stop => "stop",
            FaultKind::Isolate => "isolate",
            FaultKind::CutOutbound => "cut the outbound links of",
            FaultKind::CutInbound => "cut the inbound links of",
            FaultKind::ClockJump { jump_ms } => {
                return write!(f, "wall clock {jump_ms:+} ms at {} ms", self.at_ms);
            }
        };
        write!(
            f,
            "{what} {} at {} ms for {} ms",
            self.target, self.at_ms, self.for_ms
        )
    }
}

/// One schedule: its seed and its faults, in start order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub seed: u64,
    pub faults: Vec<Fault>,
}

/// Bounds of a generated schedule.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub nodes: i32,
    pub partitions: i32,
    /// Faults start within the first `workload_ms` minus the longest fault, so every one ends
    /// while the workload still runs.
    pub workload_ms: u64,
    pub faults_min: usize,
    pub faults_max: usize,
    pub fault_ms_min: u64,
    pub fault_ms_max: u64,
}

pub fn generate(seed: u64, shape: Shape) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let count = rng.random_range(shape.faults_min..=shape.faults_max.max(shape.faults_min));
    let latest_start = shape.workload_ms.saturating_sub(shape.fault_ms_max).max(1);
    let mut faults: Vec<Fault> = (0..count)
        .map(|_| {
            let kind = match rng.random_range(0..20) {
                0..=6 => FaultKind::Kill,
                7..=8 => FaultKind::Stop,
                9..=14 => FaultKind::Isolate,
                15..=16 => FaultKind::CutOutbound,
                17..=18 => FaultKind::CutInbound,
                _ => FaultKind::ClockJump {
                    // Up to an hour either way: well inside retention, past every session.
                    jump_ms: rng.random_range(-3_600_000..=3_600_000),
                },
            };
            let target = match rng.random_range(0..10) {
                0..=3 => Target::LeaderOf(rng.random_range(0..shape.partitions.max(1))),
                4..=5 => Target::ActiveController,
                _ => Target::Node(rng.random_range(1..=shape.nodes.max(1))),
            };
            Fault {
                at_ms: rng.random_range(0..latest_start),
                for_ms: rng.random_range(shape.fault_ms_min..=shape.fault_ms_max),
                kind,
                target,
            }
        })
        .collect();
    faults.sort_by_key(|f| f.at_ms);
    Schedule { seed, faults }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        nodes: 3,
        partitions: 3,
        workload_ms: 8_000,
        faults_min: 2,
        faults_max: 4,
        fault_ms_min: 500,
        fault_ms_max: 3_000,
    };

    #[test]
    fn a_seed_names_one_schedule() {
        assert_eq!(generate(7, SHAPE), generate(7, SHAPE));
        let distinct: std::collections::HashSet<String> = (0..50)
            .map(|s| format!("{:?}", generate(s, SHAPE).faults))
            .collect();
        assert!(distinct.len() > 45, "seeds give different schedules");
    }

    #[test]
    fn faults_stay_within_the_shape() {
        for seed in 0..500 {
            let s = generate(seed, SHAPE);
            assert!((2..=4).contains(&s.faults.len()));
            assert!(s.faults.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
            for f in &s.faults {
                assert!(f.at_ms + f.for_ms <= SHAPE.workload_ms, "{f}");
                assert!((500..=3_000).contains(&f.for_ms));
                match f.target {
                    Target::LeaderOf(p) => assert!((0..3).contains(&p)),
                    Target::Node(id) => assert!((1..=3).contains(&id)),
                    Target::ActiveController => {}
                }
            }
        }
        // Every kind and every target kind turns up over many seeds.
        let all: Vec<Fault> = (0..200).flat_map(|s| generate(s, SHAPE).faults).collect();
        assert!(all.iter().any(|f| f.kind == FaultKind::Kill));
        assert!(all.iter().any(|f| f.kind == FaultKind::Stop));
        assert!(all.iter().any(|f| f.kind == FaultKind::Isolate));
        assert!(all.iter().any(|f| f.kind == FaultKind::CutOutbound));
        assert!(all.iter().any(|f| f.kind == FaultKind::CutInbound));
        assert!(
            all.iter()
                .any(|f| matches!(f.kind, FaultKind::ClockJump { .. }))
        );
        assert!(all.iter().any(|f| f.target == Target::ActiveController));
    }
}
