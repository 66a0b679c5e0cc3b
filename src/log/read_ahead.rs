//! Read-ahead for consumers reading bytes the page-cache drop-behind has dropped.
//!
//! Purpose: a consumer that is more than the drop-behind window behind the log end reads from
//! the device (`page_cache::read_direct`: O_DIRECT, no page-cache pages, no CPU copy). Done on
//! the request path alone, every fetch would wait for the device. Instead, each such read starts
//! a read of the bytes that follow it on the log's background thread (`background`), and the partition keeps it in its
//! one slot; the consumer's next fetch, which starts exactly there, takes those bytes, usually
//! already read while the previous response was on its way, and with it the position of the batch
//! it asks for, so it walks no batch headers (which would read the dropped bytes back in).
//!
//! Contract: a slot holds at most one pending read (the latest); a fetch of another offset (or
//! segment) discards it. Bytes read ahead are committed bytes of an append-only file
//! and so cannot go stale: a truncation (the one thing that removes committed bytes) opens the
//! segment it cuts again, so a read keyed on the old descriptor never matches a fetch again. Nothing here is needed for correctness: when the thread is missing,
//! busy (its queue is bounded), failed, or slow (`WAIT_LIMIT_MS`), the caller reads itself.
//! Memory: one buffer per partition whose consumer is behind, of that consumer's fetch size, and
//! at most `READ_AHEAD_BUDGET_BYTES` in all (a slot keeps its buffer until it is taken or
//! replaced, or two sweeps pass (`LogManager::checkpoint`, every 60 s); past the budget, fetches
//! read for themselves).
//!
//! Lock order: a slot's lock and a pending read's lock are never held together, and neither is
//! held with the partition lock.
//! Must not import: protocol, `kafka_protocol`, server, `tokio`.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::{background, page_cache};

/// The longest a fetch waits for a read already under way before reading itself (the wait
/// happens on the fetch's thread; the read it waits for is normally long done).
const WAIT_LIMIT_MS: u64 = 20;
/// Bytes all partitions' slots may hold at once; a read-ahead that would pass it is not started.
pub const READ_AHEAD_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// Bytes reserved by the slots of the whole process.
static RESERVED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A reservation of bytes against a budget, returned when dropped.
struct Reservation {
    counter: &'static AtomicUsize,
    bytes: usize,
}

impl Reservation {
    fn new(bytes: usize) -> Option<Reservation> {
        Self::new_in(&RESERVED_BYTES, READ_AHEAD_BUDGET_BYTES, bytes)
    }

    fn new_in(counter: &'static AtomicUsize, budget: usize, bytes: usize) -> Option<Reservation> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|total| *total <= budget)
            })
            .ok()
            .map(|_| Reservation { counter, bytes })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[derive(Default)]
struct Done {
    result: Mutex<Option<std::io::Result<Bytes>>>,
    ready: Condvar,
    /// Set when the pending read is discarded; a job not yet run then skips its read.
    cancelled: AtomicBool,
}

struct Pending {
    file: Arc<File>,
    pos: u64,
    /// The offset a fetch wanting these bytes asks for (the first batch's base offset).
    offset: i64,
    done: Arc<Done>,
    _reservation: Reservation,
    /// A sweep has seen this read untaken (`sweep`).
    swept: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.done.cancelled.store(true, Ordering::Release);
    }
}

/// One partition's read-ahead slot.
#[derive(Default)]
pub struct ReadAhead {
    slot: Mutex<Option<Pending>>,
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pending = lock(&self.slot).as_ref().map(|p| (p.pos, p.offset));
        f.debug_struct("ReadAhead")
            .field("pending", &pending)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ReadAhead {
    /// The position and bytes read ahead for a fetch of `offset` in `file`, if such a read was
    /// started; waits for it if it is still under way. Any other pending read is discarded.
    /// The caller checks that the bytes start with the batch it wants.
    pub fn take(&self, file: &Arc<File>, offset: i64) -> Option<(u64, Bytes)> {
        let pending = lock(&self.slot).take()?;
        if !Arc::ptr_eq(&pending.file, file) || pending.offset != offset {
            return None;
        }
        let result = lock(&pending.done.result);
        let (mut result, _) = pending
            .done
            .ready
            .wait_timeout_while(result, Duration::from_millis(WAIT_LIMIT_MS), |r| {
                r.is_none()
            })
            .unwrap_or_else(|e| e.into_inner());
        match result.take() {
            Some(Ok(bytes)) => Some((pending.pos, bytes)),
            Some(Err(e)) => {
                tracing::debug!("read-ahead failed, reading inline: {e}");
                None
            }
            None => None,
        }
    }

    /// Discards whatever the slot holds (a read elsewhere, a deleted segment).
    pub fn clear(&self) {
        *lock(&self.slot) = None;
    }

    /// Periodic: discards a read that was already pending at the previous sweep and has not been
    /// taken since (its consumer stopped or moved), returning its bytes to the budget and its
    /// descriptor to the segment.
    pub fn sweep(&self) {
        let mut slot = lock(&self.slot);
        match slot.as_mut() {
            Some(p) if p.swept => *slot = None,
            Some(p) => p.swept = true,
            None => {}
        }
    }

    /// Starts reading `len` bytes at `pos` of `file` (an O_DIRECT descriptor) in the background,
    /// for the fetch of `offset` that will want them, replacing whatever the slot held.
    pub fn start(&self, file: Arc<File>, pos: u64, len: usize, offset: i64) {
        // Whatever the slot held is released first, so its bytes count no more.
        *lock(&self.slot) = None;
        if len == 0 {
            return;
        }
        let Some(reservation) = Reservation::new(len) else {
            return; // over budget: this consumer's next fetch reads for itself
        };
        let done = Arc::new(Done::default());
        let job_done = done.clone();
        let job_file = file.clone();
        let job: background::Job = Box::new(move || {
            if job_done.cancelled.load(Ordering::Acquire) {
                return; // discarded before it ran
            }
            let result = page_cache::read_direct(&job_file, pos, len);
            *lock(&job_done.result) = Some(result);
            job_done.ready.notify_all();
        });
        *lock(&self.slot) = match background::submit(job) {
            Ok(()) => Some(Pending {
                file,
                pos,
                offset,
                done,
                _reservation: reservation,
                swept: false,
            }),
            // Busy: the next fetch reads for itself.
            Err(_) => None,
        };
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(data: &[u8]) -> (tempfile::TempDir, Arc<File>) {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("seg.log");
        File::create(&path).unwrap().write_all(data).unwrap();
        let f = page_cache::open_direct(&path).expect("O_DIRECT on the project's file system");
        (dir, f)
    }

    #[test]
    fn takes_what_was_read_ahead_at_that_position_only() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let (_dir, f) = file_with(&data);
        let ra = ReadAhead::default();
        assert!(ra.take(&f, 0).is_none(), "nothing started");
        ra.start(f.clone(), 1000, 5000, 42);
        let (pos, got) = ra.take(&f, 42).expect("read ahead");
        assert_eq!(pos, 1000);
        assert_eq!(&got[..], &data[1000..6000]);
        assert!(ra.take(&f, 42).is_none(), "taken once");
        ra.start(f.clone(), 2000, 100, 50);
        assert!(ra.take(&f, 51).is_none(), "another offset discards it");
        assert!(ra.take(&f, 50).is_none(), "discarded");
        let other = page_cache::open_direct(&_dir.path().join("seg.log")).unwrap();
        ra.start(f.clone(), 2000, 100, 50);
        assert!(ra.take(&other, 50).is_none(), "another file does not match");
        // A read nobody takes survives one sweep, not two.
        ra.start(f.clone(), 0, 100, 90);
        ra.sweep();
        let (pos, _) = ra.take(&f, 90).expect("survives one sweep");
        assert_eq!(pos, 0);
        ra.start(f.clone(), 0, 100, 91);
        ra.sweep();
        ra.sweep();
        assert!(ra.take(&f, 91).is_none(), "swept after two");
        ra.start(f.clone(), 99_990, 100, 60);
        assert!(
            ra.take(&f, 60).is_none(),
            "a read past the end fails and is not used"
        );
    }

    #[test]
    fn reservations_stay_within_the_budget_and_return_on_drop() {
        static HELD: AtomicUsize = AtomicUsize::new(0);
        let a = Reservation::new_in(&HELD, 100, 60).expect("fits");
        assert!(
            Reservation::new_in(&HELD, 100, 41).is_none(),
            "would pass the budget"
        );
        let b = Reservation::new_in(&HELD, 100, 40).expect("fits exactly");
        assert_eq!(HELD.load(Ordering::Acquire), 100);
        drop(a);
        assert_eq!(HELD.load(Ordering::Acquire), 40);
        assert!(
            Reservation::new_in(&HELD, 100, usize::MAX).is_none(),
            "no overflow"
        );
        drop(b);
        assert_eq!(HELD.load(Ordering::Acquire), 0);
    }
}
