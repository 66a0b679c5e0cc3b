//! Server-side partition assignors of KIP-848 consumer groups (`group.consumer.assignors`).
//!
//! Contract: an assignor is a pure function from the members (their subscriptions and their
//! current *target* assignment, which is what stickiness is measured against, as in Kafka) and the
//! partition counts of the subscribed topics to a new target assignment. Every member given is in
//! the result, possibly with nothing. Invariants of every assignor here:
//! - a partition is given to at most one member, and only to a member subscribed to its topic;
//! - every partition of a topic with at least one subscriber is given to someone;
//! - the result depends only on the input (ordered maps, members sorted by id): no randomness.
//!
//! `uniform` (Kafka's default, `UniformAssignor`): balanced counts, sticky. `range` (Kafka's
//! server-side `RangeAssignor`, simplified): per topic, contiguous ranges over its subscribers in
//! member-id order, the first `count % n` getting one more.
//!
//! Must not import: anything but `model` (the group state machine calls in, never the reverse).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::TopicId;

/// Partitions by topic: one member's share.
pub type MemberAssignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// One member as an assignor sees it.
#[derive(Debug, Clone, Copy)]
pub struct AssignorMember<'a> {
    pub member_id: &'a str,
    /// Topics the member subscribes to (names already resolved to ids, regexes expanded).
    pub subscribed: &'a BTreeSet<TopicId>,
    /// The member's current target assignment; assignors that are sticky try to keep it.
    pub current: &'a MemberAssignment,
}

/// A server-side assignor.
pub trait Assignor: Send + Sync {
    /// The name clients ask for in `ServerAssignor` and the broker lists in its config.
    fn name(&self) -> &'static str;
    /// The new target assignment of every member in `members`, given each subscribed topic's
    /// partition count. Topics absent from `partitions` (or with a count <= 0) are not assigned.
    fn assign(
        &self,
        members: &[AssignorMember<'_>],
        partitions: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, MemberAssignment>;
}

/// Balanced and sticky; Kafka's `uniform`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformAssignor;

/// Contiguous ranges per topic; Kafka's `range`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

static UNIFORM: UniformAssignor = UniformAssignor;
static RANGE: RangeAssignor = RangeAssignor;

/// The assignor called `name`, if Gregor has it.
pub fn by_name(name: &str) -> Option<&'static dyn Assignor> {
    match name {
        "uniform" => Some(&UNIFORM),
        "range" => Some(&RANGE),
        _ => None,
    }
}

type Tp = (TopicId, i32);

/// Members sorted by id with duplicates dropped (the first one given wins), so that every
/// decision below can break ties by position.
fn sorted_members<'m, 'a>(members: &'m [AssignorMember<'a>]) -> Vec<&'m AssignorMember<'a>> {
    let mut out: Vec<&AssignorMember<'a>> = Vec::with_capacity(members.len());
    let mut seen = BTreeSet::new();
    for m in members {
        if seen.insert(m.member_id) {
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.member_id.cmp(b.member_id));
    out
}

/// Topics that can be assigned: present with a positive count.
fn live_topics(partitions: &BTreeMap<TopicId, i32>) -> BTreeMap<TopicId, i32> {
    partitions
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(t, c)| (*t, *c))
        .collect()
}

fn empty_result(members: &[&AssignorMember<'_>]) -> BTreeMap<String, MemberAssignment> {
    members
        .iter()
        .map(|m| (m.member_id.to_string(), MemberAssignment::new()))
        .collect()
}

fn to_member_assignment(set: &BTreeSet<Tp>) -> MemberAssignment {
    let mut out = MemberAssignment::new();
    for (t, p) in set {
        out.entry(*t).or_default().insert(*p);
    }
    out
}

impl Assignor for UniformAssignor {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn assign(
        &self,
        members: &[AssignorMember<'_>],
        partitions: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, MemberAssignment> {
        let ms = sorted_members(members);
        if ms.is_empty() {
            return BTreeMap::new();
        }
        let topics = live_topics(partitions);
        // Each member's subscription restricted to what can be assigned.
        let subs: Vec<BTreeSet<TopicId>> = ms
            .iter()
            .map(|m| {
                m.subscribed
                    .iter()
                    .filter(|t| topics.contains_key(t))
                    .copied()
                    .collect()
            })
            .collect();
        let homogeneous = subs.windows(2).all(|w| w[0] == w[1]);
        let sets = if homogeneous {
            uniform_homogeneous(&ms, &subs[0], &topics)
        } else {
            uniform_heterogeneous(&ms, &subs, &topics)
        };
        ms.iter()
            .zip(sets.iter())
            .map(|(m, s)| (m.member_id.to_string(), to_member_assignment(s)))
            .collect()
    }
}

/// The partitions of `current` that are still valid for a member subscribed to `sub`.
fn valid_current<'x>(
    current: &'x MemberAssignment,
    sub: &'x BTreeSet<TopicId>,
    topics: &'x BTreeMap<TopicId, i32>,
) -> impl Iterator<Item = Tp> + 'x {
    current.iter().flat_map(move |(t, ps)| {
        let count = if sub.contains(t) {
            topics.get(t).copied().unwrap_or(0)
        } else {
            0
        };
        ps.iter()
            .filter(move |p| **p >= 0 && **p < count)
            .map(move |p| (*t, *p))
    })
}

/// Everyone subscribes to the same topics: quotas are exact (`total / n`, the remainder going
/// first to the members that already hold more than the base, to move as little as possible).
fn uniform_homogeneous(
    ms: &[&AssignorMember<'_>],
    sub: &BTreeSet<TopicId>,
    topics: &BTreeMap<TopicId, i32>,
) -> Vec<BTreeSet<Tp>> {
    let n = ms.len();
    let all: Vec<Tp> = sub
        .iter()
        .flat_map(|t| {
            let c = topics.get(t).copied().unwrap_or(0);
            (0..c).map(move |p| (*t, p))
        })
        .collect();
    let total = all.len();
    let base = total / n;
    let extra = total % n;

    // What each member may keep: valid and not already claimed by a member earlier in id order.
    let mut claimed: BTreeSet<Tp> = BTreeSet::new();
    let mut kept: Vec<Vec<Tp>> = Vec::with_capacity(n);
    for m in ms {
        let mut mine = Vec::new();
        for tp in valid_current(m.current, sub, topics) {
            if claimed.insert(tp) {
                mine.push(tp);
            }
        }
        kept.push(mine);
    }

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| kept[*b].len().cmp(&kept[*a].len()).then(a.cmp(b)));
    let mut quota = vec![base; n];
    for i in order.into_iter().take(extra) {
        quota[i] = base + 1;
    }

    let mut out: Vec<BTreeSet<Tp>> = vec![BTreeSet::new(); n];
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    for i in 0..n {
        for tp in kept[i].iter().take(quota[i]) {
            out[i].insert(*tp);
            taken.insert(*tp);
        }
    }
    // Hand the rest out round-robin over the members still short of their quota, so that a
    // member's new partitions spread over topics rather than filling up from one.
    let deficits: Vec<usize> = (0..n)
        .map(|i| quota[i].saturating_sub(out[i].len()))
        .collect();
    let rounds = deficits.iter().copied().max().unwrap_or(0);
    let mut slots = Vec::new();
    for r in 0..rounds {
        for (i, d) in deficits.iter().enumerate() {
            if *d > r {
                slots.push(i);
            }
        }
    }
    let free = all.into_iter().filter(|tp| !taken.contains(tp));
    for (tp, i) in free.zip(slots) {
        out[i].insert(tp);
    }
    out
}

/// Members subscribe to different topics: keep what is valid, place the rest on the least loaded
/// subscriber (partitions with the fewest candidates first), then move partitions from a member to
/// a subscriber of theirs holding at least two fewer until no such pair is left. Each move lowers
/// the sum of squared counts, so the loop ends; at the end two members with the same
/// subscriptions differ by at most one.
fn uniform_heterogeneous(
    ms: &[&AssignorMember<'_>],
    subs: &[BTreeSet<TopicId>],
    topics: &BTreeMap<TopicId, i32>,
) -> Vec<BTreeSet<Tp>> {
    let n = ms.len();
    let mut subscribers: BTreeMap<TopicId, Vec<usize>> = BTreeMap::new();
    for (i, s) in subs.iter().enumerate() {
        for t in s {
            subscribers.entry(*t).or_default().push(i);
        }
    }

    let mut out: Vec<BTreeSet<Tp>> = vec![BTreeSet::new(); n];
    let mut claimed: BTreeSet<Tp> = BTreeSet::new();
    for (i, m) in ms.iter().enumerate() {
        for tp in valid_current(m.current, &subs[i], topics) {
            if claimed.insert(tp) {
                out[i].insert(tp);
            }
        }
    }

    let mut free: Vec<(usize, Tp)> = Vec::new();
    for (t, who) in &subscribers {
        let c = topics.get(t).copied().unwrap_or(0);
        for p in 0..c {
            if !claimed.contains(&(*t, p)) {
                free.push((who.len(), (*t, p)));
            }
        }
    }
    free.sort();
    for (_, tp) in free {
        let Some(who) = subscribers.get(&tp.0) else {
            continue;
        };
        let best = who.iter().copied().min_by_key(|i| (out[*i].len(), *i));
        if let Some(i) = best {
            out[i].insert(tp);
        }
    }

    // Bound the balancing loop anyway; the potential argument above says it is never reached.
    let total: usize = out.iter().map(|s| s.len()).sum();
    let mut budget = total.saturating_mul(n).saturating_add(1);
    while budget > 0 {
        budget -= 1;
        let mut desc: Vec<usize> = (0..n).collect();
        desc.sort_by(|a, b| out[*b].len().cmp(&out[*a].len()).then(a.cmp(b)));
        let mut asc: Vec<usize> = (0..n).collect();
        asc.sort_by(|a, b| out[*a].len().cmp(&out[*b].len()).then(a.cmp(b)));
        let mut mv: Option<(usize, usize, Tp)> = None;
        'search: for &a in &desc {
            for &b in &asc {
                if out[a].len() < out[b].len() + 2 {
                    break;
                }
                // The highest partition of `a` that `b` can take.
                if let Some(tp) = out[a].iter().rev().find(|tp| subs[b].contains(&tp.0)) {
                    mv = Some((a, b, *tp));
                    break 'search;
                }
            }
        }
        let Some((a, b, tp)) = mv else { break };
        out[a].remove(&tp);
        out[b].insert(tp);
    }
    out
}

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        members: &[AssignorMember<'_>],
        partitions: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, MemberAssignment> {
        let ms = sorted_members(members);
        let mut out = empty_result(&ms);
        for (t, count) in live_topics(partitions) {
            let who: Vec<&str> = ms
                .iter()
                .filter(|m| m.subscribed.contains(&t))
                .map(|m| m.member_id)
                .collect();
            if who.is_empty() {
                continue;
            }
            let n = who.len() as i64;
            let per = i64::from(count) / n;
            let extra = i64::from(count) % n;
            let mut start: i64 = 0;
            for (i, id) in who.iter().enumerate() {
                let len = per + i64::from((i as i64) < extra);
                if len > 0
                    && let Some(a) = out.get_mut(*id)
                {
                    // start + len <= count, which is an i32.
                    let ps = (start..start + len).filter_map(|p| i32::try_from(p).ok());
                    a.entry(t).or_default().extend(ps);
                }
                start += len;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid(n: u8) -> TopicId {
        let mut b = [0u8; 16];
        b[15] = n;
        TopicId(b)
    }

    struct M {
        id: String,
        sub: BTreeSet<TopicId>,
        cur: MemberAssignment,
    }

    fn m(id: &str, sub: &[u8]) -> M {
        M {
            id: id.into(),
            sub: sub.iter().map(|n| tid(*n)).collect(),
            cur: MemberAssignment::new(),
        }
    }

    fn run(a: &dyn Assignor, ms: &[M], parts: &[(u8, i32)]) -> BTreeMap<String, MemberAssignment> {
        let views: Vec<AssignorMember<'_>> = ms
            .iter()
            .map(|m| AssignorMember {
                member_id: &m.id,
                subscribed: &m.sub,
                current: &m.cur,
            })
            .collect();
        let p: BTreeMap<TopicId, i32> = parts.iter().map(|(t, c)| (tid(*t), *c)).collect();
        a.assign(&views, &p)
    }

    fn count(a: &MemberAssignment) -> usize {
        a.values().map(|s| s.len()).sum()
    }

    /// Every partition of a subscribed topic exactly once, and only to subscribers.
    fn check_complete(ms: &[M], parts: &[(u8, i32)], out: &BTreeMap<String, MemberAssignment>) {
        let mut seen = BTreeSet::new();
        for m in ms {
            let a = &out[&m.id];
            for (t, ps) in a {
                assert!(m.sub.contains(t), "{} got unsubscribed topic", m.id);
                for p in ps {
                    assert!(seen.insert((*t, *p)), "partition given twice");
                }
            }
        }
        for (t, c) in parts {
            let subscribed = ms.iter().any(|m| m.sub.contains(&tid(*t)));
            for p in 0..*c {
                assert_eq!(seen.contains(&(tid(*t), p)), subscribed, "t{t}p{p}");
            }
        }
    }

    #[test]
    fn uniform_balances_homogeneous() {
        let ms = vec![m("a", &[1, 2]), m("b", &[1, 2]), m("c", &[1, 2])];
        let parts = [(1, 4), (2, 3)];
        let out = run(&UniformAssignor, &ms, &parts);
        check_complete(&ms, &parts, &out);
        let counts: Vec<usize> = out.values().map(count).collect();
        assert_eq!(
            counts.iter().max().unwrap() - counts.iter().min().unwrap(),
            1
        );
        assert_eq!(counts.iter().sum::<usize>(), 7);
    }

    #[test]
    fn uniform_is_sticky_when_a_member_joins() {
        let mut ms = vec![m("a", &[1]), m("b", &[1])];
        let parts = [(1, 6)];
        let first = run(&UniformAssignor, &ms, &parts);
        ms[0].cur = first["a"].clone();
        ms[1].cur = first["b"].clone();
        ms.push(m("c", &[1]));
        let second = run(&UniformAssignor, &ms, &parts);
        check_complete(&ms, &parts, &second);
        for id in ["a", "b", "c"] {
            assert_eq!(count(&second[id]), 2);
        }
        // a and b only lose partitions; nothing moves between them.
        for id in ["a", "b"] {
            for (t, ps) in &second[id] {
                assert!(
                    ps.is_subset(&first[id][t]),
                    "{id} gained a partition it did not have"
                );
            }
        }
        // And with nothing changed, nothing moves.
        let mut again = ms;
        for x in again.iter_mut() {
            x.cur = second[&x.id].clone();
        }
        assert_eq!(run(&UniformAssignor, &again, &parts), second);
    }

    #[test]
    fn uniform_drops_invalid_and_doubly_claimed_current() {
        let mut ms = vec![m("a", &[1]), m("b", &[1])];
        ms[0].cur.insert(tid(1), [0, 1, 2, 9].into_iter().collect());
        ms[1].cur.insert(tid(1), [2, 3].into_iter().collect());
        ms[1].cur.insert(tid(5), [0].into_iter().collect());
        let parts = [(1, 4)];
        let out = run(&UniformAssignor, &ms, &parts);
        check_complete(&ms, &parts, &out);
        assert_eq!(count(&out["a"]), 2);
        assert_eq!(count(&out["b"]), 2);
        assert!(out["b"][&tid(1)].contains(&3));
    }

    #[test]
    fn uniform_heterogeneous_subscriptions() {
        let ms = vec![
            m("a", &[1]),
            m("b", &[1, 2]),
            m("c", &[2]),
            m("d", &[1, 2]),
            m("e", &[3]),
        ];
        let parts = [(1, 5), (2, 7), (3, 2), (4, 3)];
        let out = run(&UniformAssignor, &ms, &parts);
        check_complete(&ms, &parts, &out);
        // Identical subscriptions (b, d) differ by at most one; nobody can take from a fuller
        // member it shares a topic with.
        assert!(count(&out["b"]).abs_diff(count(&out["d"])) <= 1);
        assert_eq!(count(&out["e"]), 2);
        let total: usize = ["a", "b", "c", "d"].iter().map(|x| count(&out[*x])).sum();
        assert_eq!(total, 12);
        for x in ["a", "b", "c", "d"] {
            assert!(
                count(&out[x]) >= 2 && count(&out[x]) <= 4,
                "{x}: {}",
                count(&out[x])
            );
        }
    }

    #[test]
    fn uniform_heterogeneous_is_sticky() {
        let mut ms = vec![m("a", &[1, 2]), m("b", &[1, 2]), m("c", &[2])];
        let parts = [(1, 4), (2, 4)];
        let first = run(&UniformAssignor, &ms, &parts);
        check_complete(&ms, &parts, &first);
        for x in ms.iter_mut() {
            x.cur = first[&x.id].clone();
        }
        assert_eq!(run(&UniformAssignor, &ms, &parts), first);
    }

    #[test]
    fn topics_without_subscribers_or_partitions_are_not_assigned() {
        let ms = vec![m("a", &[1, 7]), m("b", &[1])];
        let parts = [(1, 2), (2, 5), (7, 0)];
        for a in [by_name("uniform").unwrap(), by_name("range").unwrap()] {
            let out = run(a, &ms, &parts);
            check_complete(&ms, &parts, &out);
            assert!(
                out.values()
                    .all(|x| !x.contains_key(&tid(2)) && !x.contains_key(&tid(7)))
            );
        }
        assert!(by_name("sticky").is_none());
        assert!(run(&UniformAssignor, &[], &parts).is_empty());
    }

    #[test]
    fn assignors_are_deterministic() {
        let ms = vec![m("z", &[1, 2]), m("y", &[2]), m("x", &[1, 2, 3])];
        let rev: Vec<M> = ms
            .iter()
            .rev()
            .map(|x| M {
                id: x.id.clone(),
                sub: x.sub.clone(),
                cur: x.cur.clone(),
            })
            .collect();
        let parts = [(1, 7), (2, 5), (3, 3)];
        for a in [&UniformAssignor as &dyn Assignor, &RangeAssignor] {
            let one = run(a, &ms, &parts);
            assert_eq!(one, run(a, &ms, &parts));
            assert_eq!(one, run(a, &rev, &parts), "input order must not matter");
        }
    }

    #[test]
    fn uniform_larger_heterogeneous_group_stays_complete_and_balanced() {
        let mut ms = Vec::new();
        for i in 0..60u8 {
            let sub: &[u8] = match i % 3 {
                0 => &[1, 2],
                1 => &[2, 3],
                _ => &[1, 2, 3],
            };
            ms.push(m(&format!("m{i:02}"), sub));
        }
        let parts = [(1, 200), (2, 300), (3, 250)];
        let out = run(&UniformAssignor, &ms, &parts);
        check_complete(&ms, &parts, &out);
        for group in 0..3u8 {
            let counts: Vec<usize> = ms
                .iter()
                .enumerate()
                .filter(|(i, _)| *i as u8 % 3 == group)
                .map(|(_, x)| count(&out[&x.id]))
                .collect();
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(hi - lo <= 1, "group {group}: {lo}..{hi}");
        }
        // Re-running from its own output moves nothing.
        for x in ms.iter_mut() {
            x.cur = out[&x.id].clone();
        }
        assert_eq!(run(&UniformAssignor, &ms, &parts), out);
    }

    #[test]
    fn range_gives_contiguous_ranges_in_member_order() {
        let ms = vec![m("c", &[1]), m("a", &[1, 2]), m("b", &[1, 2])];
        let parts = [(1, 8), (2, 3)];
        let out = run(&RangeAssignor, &ms, &parts);
        check_complete(&ms, &parts, &out);
        let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
        assert_eq!(out["a"][&tid(1)], set(&[0, 1, 2]));
        assert_eq!(out["b"][&tid(1)], set(&[3, 4, 5]));
        assert_eq!(out["c"][&tid(1)], set(&[6, 7]));
        assert_eq!(out["a"][&tid(2)], set(&[0, 1]));
        assert_eq!(out["b"][&tid(2)], set(&[2]));
        assert!(!out["c"].contains_key(&tid(2)));
    }

    #[test]
    fn range_with_more_members_than_partitions() {
        let ms = vec![m("a", &[1]), m("b", &[1]), m("c", &[1])];
        let out = run(&RangeAssignor, &ms, &[(1, 2)]);
        assert_eq!(count(&out["a"]), 1);
        assert_eq!(count(&out["b"]), 1);
        assert!(out["c"].is_empty());
    }
}
