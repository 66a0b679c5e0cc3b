//! Incremental fetch sessions (KIP-227).
//!
//! Contract: a session remembers, per partition, the fetch offset and byte limit the client last
//! sent and the high watermark and log start offset last reported, so an incremental request need
//! only name what changed and an incremental response need only carry what changed. Epochs:
//! a new session answers epoch 0 and then expects 1, 2, ...; epoch -1 (FINAL) closes a session.
//! At most `sessions_max` sessions are cached; when full, the least recently used is evicted.
//! Lock order: the cache's mutex is a leaf; it is never held across an await or a log read.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{TopicId, TopicPartition};
use crate::server::BrokerError;

/// Kafka's `max.incremental.fetch.session.cache.slots` default.
pub const SESSIONS_MAX: usize = 1000;
pub const INVALID_SESSION_ID: i32 = 0;
pub const INITIAL_EPOCH: i32 = 0;
pub const FINAL_EPOCH: i32 = -1;

#[derive(Debug, Clone)]
pub struct SessionPartition {
    pub tp: TopicPartition,
    pub topic_id: TopicId,
    pub fetch_offset: i64,
    pub partition_max_bytes: i32,
    /// What the last response reported, to decide what an incremental response must include.
    pub last_high_watermark: i64,
    pub last_log_start_offset: i64,
}

#[derive(Debug)]
struct Session {
    next_epoch: i32,
    partitions: Vec<SessionPartition>,
    last_used: u64,
}

#[derive(Debug)]
pub struct FetchSessionCache {
    sessions_max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<i32, Session>,
    next_id: i32,
    uses: u64,
}

/// How a request relates to sessions, decided before any data is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    /// No session: a full request and a full response, session id 0.
    Sessionless,
    /// A new session: full request, full response carrying the new id.
    New(i32),
    /// An incremental request against an existing session.
    Incremental(i32),
}

/// A partition named in the request: (partition, topic id, fetch offset, partition max bytes).
pub type Wanted = (TopicPartition, TopicId, i64, i32);

impl FetchSessionCache {
    pub fn new(sessions_max: usize) -> Self {
        FetchSessionCache {
            sessions_max,
            inner: Mutex::new(Inner {
                next_id: 1,
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a request to the cache and returns the mode and the partitions to read.
    pub fn begin(
        &self,
        session_id: i32,
        epoch: i32,
        wanted: Vec<Wanted>,
        forgotten: Vec<TopicPartition>,
    ) -> Result<(SessionMode, Vec<SessionPartition>), BrokerError> {
        let fresh = |w: Vec<Wanted>| -> Vec<SessionPartition> {
            w.into_iter()
                .map(
                    |(tp, topic_id, fetch_offset, partition_max_bytes)| SessionPartition {
                        tp,
                        topic_id,
                        fetch_offset,
                        partition_max_bytes,
                        last_high_watermark: -1,
                        last_log_start_offset: -1,
                    },
                )
                .collect()
        };
        let mut inner = self.lock();
        inner.uses += 1;
        let now = inner.uses;
        if session_id == INVALID_SESSION_ID {
            if epoch == FINAL_EPOCH || self.sessions_max == 0 {
                return Ok((SessionMode::Sessionless, fresh(wanted)));
            }
            if epoch != INITIAL_EPOCH {
                return Err(BrokerError::InvalidFetchSessionEpoch {
                    expected: INITIAL_EPOCH,
                    got: epoch,
                });
            }
            return Ok((
                self.create(&mut inner, fresh(wanted.clone()), now),
                fresh(wanted),
            ));
        }
        match epoch {
            FINAL_EPOCH => {
                inner.sessions.remove(&session_id);
                Ok((SessionMode::Sessionless, fresh(wanted)))
            }
            INITIAL_EPOCH => {
                inner.sessions.remove(&session_id);
                Ok((
                    self.create(&mut inner, fresh(wanted.clone()), now),
                    fresh(wanted),
                ))
            }
            _ => {
                let session = inner
                    .sessions
                    .get_mut(&session_id)
                    .ok_or(BrokerError::FetchSessionIdNotFound(session_id))?;
                if session.next_epoch != epoch {
                    return Err(BrokerError::InvalidFetchSessionEpoch {
                        expected: session.next_epoch,
                        got: epoch,
                    });
                }
                session.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
                session.last_used = now;
                session.partitions.retain(|p| !forgotten.contains(&p.tp));
                for (tp, topic_id, fetch_offset, partition_max_bytes) in wanted {
                    match session.partitions.iter_mut().find(|p| p.tp == tp) {
                        Some(p) => {
                            p.fetch_offset = fetch_offset;
                            p.partition_max_bytes = partition_max_bytes;
                            p.topic_id = topic_id;
                        }
                        None => session.partitions.extend(fresh(vec![(
                            tp,
                            topic_id,
                            fetch_offset,
                            partition_max_bytes,
                        )])),
                    }
                }
                Ok((
                    SessionMode::Incremental(session_id),
                    session.partitions.clone(),
                ))
            }
        }
    }

    fn create(
        &self,
        inner: &mut Inner,
        partitions: Vec<SessionPartition>,
        now: u64,
    ) -> SessionMode {
        if inner.sessions.len() >= self.sessions_max
            && let Some(oldest) = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id)
        {
            inner.sessions.remove(&oldest);
        }
        let id = inner.next_id;
        inner.next_id = if id == i32::MAX { 1 } else { id + 1 };
        inner.sessions.insert(
            id,
            Session {
                next_epoch: 1,
                partitions,
                last_used: now,
            },
        );
        SessionMode::New(id)
    }

    /// Records what a response reported for a partition of a session.
    pub fn reported(
        &self,
        session_id: i32,
        tp: &TopicPartition,
        high_watermark: i64,
        log_start_offset: i64,
    ) {
        let mut inner = self.lock();
        if let Some(p) = inner
            .sessions
            .get_mut(&session_id)
            .and_then(|s| s.partitions.iter_mut().find(|p| &p.tp == tp))
        {
            p.last_high_watermark = high_watermark;
            p.last_log_start_offset = log_start_offset;
        }
    }

    /// Drops a deleted topic's partitions from every session.
    pub fn forget_topic(&self, topic: &str) {
        for s in self.lock().sessions.values_mut() {
            s.partitions.retain(|p| &*p.tp.topic != topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: i32, off: i64) -> Wanted {
        (TopicPartition::new("t", p), TopicId::ZERO, off, 1024)
    }

    #[test]
    fn sessions_follow_kip_227_epochs() {
        let c = FetchSessionCache::new(2);
        let (mode, parts) = c.begin(0, -1, vec![w(0, 0)], vec![]).unwrap();
        assert_eq!(mode, SessionMode::Sessionless);
        assert_eq!(parts.len(), 1);
        let (mode, _) = c.begin(0, 0, vec![w(0, 0), w(1, 0)], vec![]).unwrap();
        let SessionMode::New(id) = mode else {
            panic!("expected a new session")
        };
        // Incremental: only partition 1 changed; partition 0 is remembered.
        let (mode, parts) = c.begin(id, 1, vec![w(1, 5)], vec![]).unwrap();
        assert_eq!(mode, SessionMode::Incremental(id));
        assert_eq!(
            parts.iter().map(|p| p.fetch_offset).collect::<Vec<_>>(),
            vec![0, 5]
        );
        // Forgetting removes; a replayed epoch is refused; an unknown id is refused.
        let (_, parts) = c
            .begin(id, 2, vec![], vec![TopicPartition::new("t", 0)])
            .unwrap();
        assert_eq!(parts.len(), 1);
        assert!(matches!(
            c.begin(id, 2, vec![], vec![]),
            Err(BrokerError::InvalidFetchSessionEpoch { .. })
        ));
        assert!(matches!(
            c.begin(999, 1, vec![], vec![]),
            Err(BrokerError::FetchSessionIdNotFound(999))
        ));
        // The cache is bounded: the least recently used session is evicted.
        let (SessionMode::New(a), _) = c.begin(0, 0, vec![], vec![]).unwrap() else {
            panic!()
        };
        let (SessionMode::New(_), _) = c.begin(0, 0, vec![], vec![]).unwrap() else {
            panic!()
        };
        assert!(c.begin(id, 3, vec![], vec![]).is_err() || c.begin(a, 1, vec![], vec![]).is_err());
    }
}
