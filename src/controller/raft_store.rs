//! openraft's storage for the metadata quorum: the Raft log, the vote and snapshots on disk in the
//! node's metadata dir (`<log.dirs>/__cluster_metadata-0/`, as KRaft's), and the state machine that
//! turns committed entries into the published `MetadataImage` (through `state_machine`).
//!
//! Contract: an append is written and fsynced before openraft is told it is durable; the vote is
//! persisted atomically with fsync before `save_vote` returns; truncate and purge are durable when
//! they return. The state machine lives in memory and is rebuilt on open from the last snapshot,
//! then by openraft re-applying committed entries; it publishes each new image through a `watch`.
//! Recovery on open: the log is read frame by frame; the first short, CRC-failing, undecodable or
//! out-of-sequence frame and everything after it is cut off with a warning (it was never
//! acknowledged, since acknowledgement follows fsync). A corrupt `state` or `snapshot` file, written
//! only by atomic rename, is real damage: open fails with a typed error rather than guess.
//! On-disk format, all files in the metadata dir:
//!   `log`       frames `[u32 BE body length][u32 BE crc32c(body)][body = JSON of Entry]`, in index
//!               order, contiguous; entries at or below `state.last_purged` are skipped on read.
//!   `state`     one frame, JSON `{vote, last_purged}`; replaced atomically.
//!   `snapshot`  two frames: JSON `SnapshotMeta`, then the image bytes (`state_machine::encode_image`);
//!               replaced atomically.
//!   Atomic replacement: write `<name>.tmp`, fsync, rename over `<name>`, fsync the directory.
//! The commit index is not persisted: after a restart the image catches up once a leader (this
//! node itself, in a quorum of one) tells the node what is committed.
//! The metadata log is small (records, not data), so entries are also kept in memory; disk I/O is
//! done inline on the async task (each call is one small write + fsync).
//! Lock order: `LogStore::inner` and `StateMachineStore::current_snapshot` are never held together
//! nor across an await. Must not import: protocol, server, group, replication.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{Cursor, Write};
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, LogState, OptionalSend, RaftLogReader,
    RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
    Vote,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::MetadataImage;
use super::records::RecordBatch;
use super::state_machine::{self, ApplyOutcome};

openraft::declare_raft_types!(
    /// The metadata quorum's Raft types: one entry carries one `RecordBatch`.
    pub TypeConfig:
        D = RecordBatch,
        R = ApplyOutcome,
);

pub type NodeId = u64;
type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// KRaft's name for the metadata log's directory under `log.dirs`.
pub const METADATA_DIR_NAME: &str = "__cluster_metadata-0";
/// The largest frame read back from disk; bigger lengths are treated as corruption.
pub const DISK_FRAME_BYTES_MAX: usize = 256 * 1024 * 1024;
const FRAME_HEADER_BYTES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum RaftStoreError {
    #[error("metadata log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata log {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> RaftStoreError + '_ {
    move |source| RaftStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn encode_frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
}

/// What `decode_frames` found.
struct Frames<'a> {
    /// Each good frame's start offset and body.
    good: Vec<(u64, &'a [u8])>,
    /// Bytes up to the end of the last good frame.
    good_bytes: usize,
    /// Why decoding stopped before the end, if it did.
    problem: Option<String>,
}

/// Splits `bytes` into frame bodies with their start offsets; stops at the first bad frame.
fn decode_frames(bytes: &[u8]) -> Frames<'_> {
    let mut good = Vec::new();
    let mut pos = 0usize;
    let stop = |good, pos, why: String| Frames {
        good,
        good_bytes: pos,
        problem: Some(why),
    };
    while pos < bytes.len() {
        let Some(header) = bytes.get(pos..pos + FRAME_HEADER_BYTES) else {
            return stop(good, pos, format!("short frame header at byte {pos}"));
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len > DISK_FRAME_BYTES_MAX {
            return stop(good, pos, format!("frame length {len} at byte {pos}"));
        }
        let start = pos + FRAME_HEADER_BYTES;
        let Some(body) = bytes.get(start..start + len) else {
            return stop(good, pos, format!("short frame body at byte {pos}"));
        };
        if crc32c::crc32c(body) != crc {
            return stop(good, pos, format!("CRC mismatch at byte {pos}"));
        }
        good.push((pos as u64, body));
        pos = start + len;
    }
    Frames {
        good,
        good_bytes: pos,
        problem: None,
    }
}

/// Replaces `dir/name` with `bytes` atomically and durably.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RaftStoreError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(v)
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct DurableState {
    vote: Option<Vote<NodeId>>,
    last_purged: Option<LogId<NodeId>>,
}

#[derive(Debug)]
struct LogInner {
    dir: PathBuf,
    file: std::fs::File,
    /// Bytes of good frames in `log`: where the next append goes.
    len: u64,
    /// Entry and the byte offset of its frame.
    entries: BTreeMap<u64, (Entry<TypeConfig>, u64)>,
    state: DurableState,
}

impl LogInner {
    fn persist_state(&self) -> std::io::Result<()> {
        let body = to_json(&self.state).map_err(std::io::Error::other)?;
        let mut frame = Vec::new();
        encode_frame(&mut frame, &body);
        write_atomic(&self.dir, "state", &frame)
    }
}

/// The Raft log and vote. Clones share the same log (the clone is openraft's log reader).
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
}

impl LogStore {
    /// Opens (creating if absent) the log in `dir`, cutting off a corrupt tail.
    pub fn open(dir: &Path) -> Result<LogStore, RaftStoreError> {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let state_path = dir.join("state");
        let state = match read_optional(&state_path)? {
            None => DurableState::default(),
            Some(bytes) => {
                let corrupt = |reason: String| RaftStoreError::Corrupt {
                    path: state_path.clone(),
                    reason,
                };
                let frames = decode_frames(&bytes);
                if let Some(e) = frames.problem {
                    return Err(corrupt(e));
                }
                let body = frames
                    .good
                    .first()
                    .map(|f| f.1)
                    .ok_or_else(|| corrupt("empty".into()))?;
                serde_json::from_slice(body).map_err(|e| corrupt(e.to_string()))?
            }
        };
        let log_path = dir.join("log");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(io_at(&log_path))?;
        let bytes = std::fs::read(&log_path).map_err(io_at(&log_path))?;
        let Frames {
            good: frames,
            good_bytes: mut good,
            mut problem,
        } = decode_frames(&bytes);
        let mut entries = BTreeMap::new();
        let mut prev: Option<u64> = None;
        for (offset, body) in frames {
            let entry: Entry<TypeConfig> = match serde_json::from_slice(body) {
                Ok(e) => e,
                Err(e) => {
                    good = offset as usize;
                    problem = Some(format!("undecodable entry at byte {offset}: {e}"));
                    break;
                }
            };
            let index = entry.log_id.index;
            if prev.is_some_and(|p| index != p + 1) {
                good = offset as usize;
                problem = Some(format!("entry {index} out of sequence at byte {offset}"));
                break;
            }
            prev = Some(index);
            if state.last_purged.is_some_and(|p| index <= p.index) {
                continue;
            }
            entries.insert(index, (entry, offset));
        }
        if let Some(reason) = problem {
            tracing::warn!(
                path = %log_path.display(),
                %reason,
                kept_bytes = good,
                dropped_bytes = bytes.len() - good,
                "metadata log has a corrupt tail; truncating it"
            );
            file.set_len(good as u64).map_err(io_at(&log_path))?;
            file.sync_all().map_err(io_at(&log_path))?;
        }
        Ok(LogStore {
            inner: Arc::new(Mutex::new(LogInner {
                dir: dir.to_path_buf(),
                file,
                len: good as u64,
                entries,
                state,
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        Ok(self
            .lock()
            .entries
            .range(range)
            .map(|(_, (e, _))| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let inner = self.lock();
        let last_purged_log_id = inner.state.last_purged;
        let last_log_id = inner
            .entries
            .values()
            .next_back()
            .map(|(e, _)| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        let mut inner = self.lock();
        let before = inner.state.vote;
        inner.state.vote = Some(*vote);
        if let Err(e) = inner.persist_state() {
            inner.state.vote = before;
            return Err(StorageIOError::write_vote(AnyError::new(&e)).into());
        }
        Ok(())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        Ok(self.lock().state.vote)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut inner = self.lock();
        let mut buf = Vec::new();
        let mut placed = Vec::new();
        for entry in entries {
            let body = match to_json(&entry) {
                Ok(b) => b,
                Err(e) => {
                    let err = std::io::Error::other(e);
                    let out = StorageIOError::write_log_entry(entry.log_id, AnyError::new(&err));
                    callback.log_io_completed(Err(err));
                    return Err(out.into());
                }
            };
            placed.push((entry, inner.len + buf.len() as u64));
            encode_frame(&mut buf, &body);
        }
        let written = inner
            .file
            .write_all_at(&buf, inner.len)
            .and_then(|()| inner.file.sync_data());
        if let Err(e) = written {
            let out = StorageIOError::write_logs(AnyError::new(&e));
            // Drop the partial write so nothing unacknowledged sits after the good frames.
            let _ = inner.file.set_len(inner.len);
            callback.log_io_completed(Err(e));
            return Err(out.into());
        }
        inner.len += buf.len() as u64;
        for (entry, offset) in placed {
            inner.entries.insert(entry.log_id.index, (entry, offset));
        }
        drop(inner);
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let mut inner = self.lock();
        let cut = inner
            .entries
            .range(log_id.index..)
            .next()
            .map(|(_, (_, off))| *off);
        if let Some(offset) = cut {
            let done = inner
                .file
                .set_len(offset)
                .and_then(|()| inner.file.sync_all());
            if let Err(e) = done {
                return Err(StorageIOError::write_logs(AnyError::new(&e)).into());
            }
            inner.len = offset;
            inner.entries.split_off(&log_id.index);
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let mut inner = self.lock();
        let err = |e: std::io::Error| -> StorageError<NodeId> {
            StorageIOError::write_logs(AnyError::new(&e)).into()
        };
        // The purge point first: a crash before the rewrite leaves entries that open() skips.
        inner.state.last_purged = Some(log_id);
        inner.persist_state().map_err(err)?;
        let keep = inner.entries.split_off(&(log_id.index + 1));
        let mut buf = Vec::new();
        let mut entries = BTreeMap::new();
        for (index, (entry, _)) in keep {
            let body = to_json(&entry).map_err(|e| err(std::io::Error::other(e)))?;
            entries.insert(index, (entry, buf.len() as u64));
            encode_frame(&mut buf, &body);
        }
        let dir = inner.dir.clone();
        write_atomic(&dir, "log", &buf).map_err(err)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("log"))
            .map_err(err)?;
        inner.file = file;
        inner.len = buf.len() as u64;
        inner.entries = entries;
        Ok(())
    }
}

/// One published image with the index of the last entry applied to it.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub applied_index: Option<u64>,
    pub image: Arc<MetadataImage>,
}

#[derive(Debug, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

/// The state machine: applies committed entries to the image and keeps the current snapshot.
#[derive(Debug)]
pub struct StateMachineStore {
    dir: PathBuf,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    image: Arc<MetadataImage>,
    publish: watch::Sender<Published>,
    current_snapshot: Arc<Mutex<Option<StoredSnapshot>>>,
}

impl StateMachineStore {
    /// Opens the state machine in `dir` from its snapshot, if any, and the channel it publishes on.
    pub fn open(
        dir: &Path,
    ) -> Result<(StateMachineStore, watch::Receiver<Published>), RaftStoreError> {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let path = dir.join("snapshot");
        let mut sm = StateMachineStore {
            dir: dir.to_path_buf(),
            last_applied: None,
            membership: StoredMembership::default(),
            image: Arc::new(MetadataImage::default()),
            publish: watch::Sender::new(Published::default()),
            current_snapshot: Arc::new(Mutex::new(None)),
        };
        if let Some(bytes) = read_optional(&path)? {
            let corrupt = |reason: String| RaftStoreError::Corrupt {
                path: path.clone(),
                reason,
            };
            let frames = decode_frames(&bytes);
            if let Some(e) = frames.problem {
                return Err(corrupt(e));
            }
            let [(_, meta), (_, data)] = frames.good.as_slice() else {
                return Err(corrupt(format!("{} frames, expected 2", frames.good.len())));
            };
            let meta: SnapshotMeta<NodeId, BasicNode> =
                serde_json::from_slice(meta).map_err(|e| corrupt(e.to_string()))?;
            let image = state_machine::decode_image(data).map_err(|e| corrupt(e.to_string()))?;
            sm.install(meta, data.to_vec(), image);
        }
        let rx = sm.publish.subscribe();
        Ok((sm, rx))
    }

    fn install(
        &mut self,
        meta: SnapshotMeta<NodeId, BasicNode>,
        data: Vec<u8>,
        image: MetadataImage,
    ) {
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.image = Arc::new(image);
        *self
            .current_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(StoredSnapshot { meta, data });
        self.publish_now();
    }

    fn publish_now(&self) {
        self.publish.send_replace(Published {
            applied_index: self.last_applied.map(|l| l.index),
            image: self.image.clone(),
        });
    }
}

fn write_snapshot_file(dir: &Path, snap: &StoredSnapshot) -> StorageResult<()> {
    let err = |e: std::io::Error| -> StorageError<NodeId> {
        StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
    };
    let meta = to_json(&snap.meta).map_err(|e| err(std::io::Error::other(e)))?;
    let mut buf = Vec::new();
    encode_frame(&mut buf, &meta);
    encode_frame(&mut buf, &snap.data);
    write_atomic(dir, "snapshot", &buf).map_err(err)
}

/// Builds a snapshot of the image as it stood when the builder was taken.
#[derive(Debug)]
pub struct SnapshotBuilder {
    dir: PathBuf,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    image: Arc<MetadataImage>,
    current_snapshot: Arc<Mutex<Option<StoredSnapshot>>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let data = state_machine::encode_image(&self.image).map_err(|e| {
            StorageError::from(StorageIOError::write_snapshot(None, AnyError::new(&e)))
        })?;
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.leader_id.node_id, l.index),
            None => "empty".to_string(),
        };
        let snap = StoredSnapshot {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id,
            },
            data,
        };
        write_snapshot_file(&self.dir, &snap)?;
        *self
            .current_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(snap.clone());
        Ok(Snapshot {
            meta: snap.meta,
            snapshot: Box::new(Cursor::new(snap.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<ApplyOutcome>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(ApplyOutcome::default()),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(ApplyOutcome::default());
                }
                EntryPayload::Normal(batch) => {
                    match state_machine::apply_batch(&self.image, &batch) {
                        Ok(next) => {
                            self.image = Arc::new(next);
                            out.push(ApplyOutcome::default());
                        }
                        Err(e) => {
                            tracing::info!(index = entry.log_id.index, error = %e, "metadata batch skipped");
                            out.push(ApplyOutcome {
                                rejected: Some(e.to_string()),
                            });
                        }
                    }
                }
            }
        }
        self.publish_now();
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            dir: self.dir.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            image: self.image.clone(),
            current_snapshot: self.current_snapshot.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let data = snapshot.into_inner();
        let image = state_machine::decode_image(&data).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::new(&e),
            ))
        })?;
        let snap = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        write_snapshot_file(&self.dir, &snap)?;
        tracing::info!(
            dir = %self.dir.display(),
            last_log_id = ?snap.meta.last_log_id,
            bytes = snap.data.len(),
            "installed a metadata snapshot from the leader"
        );
        self.install(snap.meta, snap.data, image);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let current = self
            .current_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(current.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::testing::{StoreBuilder, Suite};
    use openraft::{CommittedLeaderId, RaftLogId};

    struct Builder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for Builder {
        async fn build(&self) -> StorageResult<(tempfile::TempDir, LogStore, StateMachineStore)> {
            let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
            let to_storage = |e: RaftStoreError| StorageIOError::write(AnyError::new(&e));
            let log = LogStore::open(dir.path()).map_err(to_storage)?;
            let (sm, _) = StateMachineStore::open(dir.path()).map_err(to_storage)?;
            Ok((dir, log, sm))
        }
    }

    #[test]
    fn openraft_storage_suite() {
        Suite::test_all(Builder).unwrap();
    }

    fn blank(term: u64, index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    async fn append(log: &mut LogStore, entries: Vec<Entry<TypeConfig>>) {
        use openraft::storage::RaftLogStorageExt;
        log.blocking_append(entries).await.unwrap();
    }

    #[tokio::test]
    async fn log_and_vote_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = LogStore::open(dir.path()).unwrap();
            append(&mut log, (1..=5).map(|i| blank(1, i)).collect()).await;
            log.save_vote(&Vote::new(3, 2)).await.unwrap();
            log.truncate(blank(1, 5).log_id).await.unwrap();
            append(&mut log, vec![blank(2, 5), blank(2, 6)]).await;
            log.purge(blank(1, 2).log_id).await.unwrap();
        }
        let mut log = LogStore::open(dir.path()).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(2));
        assert_eq!(state.last_log_id, Some(*blank(2, 6).get_log_id()));
        assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
        let got = log.try_get_log_entries(0..).await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            vec![3, 4, 5, 6]
        );
        drop(log);

        // A torn write: half a frame after the last good one, then garbage.
        let path = dir.path().join("log");
        let good_len = std::fs::metadata(&path).unwrap().len();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0, 0, 0, 40, 1, 2, 3, 4, 5]).unwrap();
        drop(f);
        let mut log = LogStore::open(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
        append(&mut log, vec![blank(2, 7)]).await;
        drop(log);
        // A flipped byte inside the last frame: that entry goes, the earlier ones stay.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let mut log = LogStore::open(dir.path()).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|l| l.index), Some(6));
    }

    #[tokio::test]
    async fn a_corrupt_vote_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state"), b"\xff\xff").unwrap();
        assert!(matches!(
            LogStore::open(dir.path()),
            Err(RaftStoreError::Corrupt { .. })
        ));
        std::fs::write(dir.path().join("snapshot"), b"\x00\x00\x00\x01abcd!").unwrap();
        assert!(matches!(
            StateMachineStore::open(dir.path()),
            Err(RaftStoreError::Corrupt { .. })
        ));
    }
}
