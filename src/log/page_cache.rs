//! Page-cache drop-behind for segment files (`gregor.log.drop.behind.bytes`).
//!
//! Purpose: a partition log is written once and, by consumers that keep up, read within moments
//! of the write. Left alone, every appended byte stays in the page cache until the kernel has to
//! reclaim it, so a produce stream keeps taking pages the machine has never touched. On a virtual
//! machine with free-page reporting (this project's CI machines) a never-touched page is several
//! times dearer to write than a reused one: writing 1 GB into fresh page cache costs 2.0 ms of CPU
//! per MB here, into recycled pages 0.5 ms (benches/RESULTS.md). Drop-behind keeps only the last
//! `window` bytes of each active segment cached: older bytes are written back (asynchronously,
//! `sync_file_range(SYNC_FILE_RANGE_WRITE)`) and, one step later, advised out
//! (`posix_fadvise(POSIX_FADV_DONTNEED)`), so the next appends reuse those pages. Reads below the
//! dropped mark come from disk and are advised out again after the read.
//!
//! Contract: purely advisory. Nothing here changes file contents, sizes or durability (writeback
//! started here is not a flush; `flush.messages`/`flush.ms` and the checkpoints still decide what
//! is fsynced); a failed call is logged at debug level and ignored. A page still dirty or under
//! writeback when advised out simply stays cached. A window of 0 turns it all off (Kafka's
//! behaviour: the kernel alone decides).
//!
//! Lock order: plans are made under the owning partition's lock; `CacheAdvice::apply` runs after
//! the lock is released.
//! Must not import: protocol, `kafka_protocol`, server, `tokio`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

/// Page size the drop marks are aligned to (advice on a partial page keeps that page).
const PAGE_BYTES: u64 = 4096;
/// Writeback is started in steps of at least this much, so a stream of small batches costs one
/// `sync_file_range` per step, not per batch.
const MIN_STEP_BYTES: u64 = 256 * 1024;
/// ... and at most this much, so pages are recycled while still hot in the CPU's caches.
const MAX_STEP_BYTES: u64 = 4 * 1024 * 1024;

/// Drop-behind progress of one segment file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DropBehind {
    /// Writeback has been started for every byte below this.
    pub writeback_started_bytes: u64,
    /// Every byte below this has been advised out of the page cache (page aligned while the
    /// segment is active; a rolled segment's whole size once it was dropped whole).
    pub dropped_bytes: u64,
}

/// The step for a window: a quarter of it, within [`MIN_STEP_BYTES`, `MAX_STEP_BYTES`].
fn step_bytes(window_bytes: u64) -> u64 {
    (window_bytes / 4).clamp(MIN_STEP_BYTES, MAX_STEP_BYTES)
}

impl DropBehind {
    /// Plans the advice for a segment whose committed size is now `size_bytes`, keeping the last
    /// `window_bytes` cached; updates the marks as if the advice had been applied. `None` when
    /// nothing is due (or the window is 0).
    pub fn plan(
        &mut self,
        file: &Arc<File>,
        size_bytes: u64,
        window_bytes: u64,
    ) -> Option<CacheAdvice> {
        if window_bytes == 0 {
            return None;
        }
        let step = step_bytes(window_bytes);
        // Only ranges whose writeback was started by an earlier plan are dropped, so the kernel
        // has had a step's worth of appends to finish writing them.
        let earlier_writeback = self.writeback_started_bytes;
        let mut writeback = None;
        if size_bytes.saturating_sub(self.writeback_started_bytes) >= step {
            writeback = Some((self.writeback_started_bytes, size_bytes));
            self.writeback_started_bytes = size_bytes;
        }
        let drop_to = size_bytes
            .saturating_sub(window_bytes)
            .min(earlier_writeback)
            / PAGE_BYTES
            * PAGE_BYTES;
        let mut drop = None;
        if drop_to >= self.dropped_bytes.saturating_add(step) {
            drop = Some((self.dropped_bytes, drop_to));
            self.dropped_bytes = drop_to;
        }
        if writeback.is_none() && drop.is_none() {
            return None;
        }
        Some(CacheAdvice {
            file: file.clone(),
            writeback,
            drop,
        })
    }
}

/// Advice planned under a lock, applied without it.
#[derive(Debug)]
pub struct CacheAdvice {
    file: Arc<File>,
    /// Start asynchronous writeback of this byte range.
    writeback: Option<(u64, u64)>,
    /// Then advise this byte range out of the page cache.
    drop: Option<(u64, u64)>,
}

impl CacheAdvice {
    /// Advice to drop the clean bytes `[from, to)` of `file`: a rolled segment after its fsync
    /// (the whole file), or dropped bytes a read has brought back.
    pub fn drop_range(file: Arc<File>, from: u64, to: u64) -> CacheAdvice {
        CacheAdvice {
            file,
            writeback: None,
            drop: Some((from, to)),
        }
    }

    /// Issues the system calls on the log's background thread (`sync_file_range` may wait for
    /// room in the device's queue). When that thread's queue is full the advice is dropped: it is
    /// advisory, and those pages simply stay cached until the kernel reclaims them.
    pub fn apply_in_background(self) {
        if super::background::submit(Box::new(move || self.apply())).is_err() {
            tracing::debug!("log I/O queue full; page-cache advice skipped");
        }
    }

    /// Issues the system calls. Errors are logged and ignored (see the module contract).
    pub fn apply(self) {
        if let Some((from, to)) = self.writeback
            && let Err(e) = start_writeback(&self.file, from, to)
        {
            tracing::debug!("sync_file_range({from}..{to}) failed: {e}");
        }
        if let Some((from, to)) = self.drop
            && let Err(e) = advise_dont_need(&self.file, from, to)
        {
            tracing::debug!("posix_fadvise(DONTNEED, {from}..{to}) failed: {e}");
        }
    }
}

/// Alignment of O_DIRECT offsets, lengths and buffers (covers 512- and 4096-byte devices).
const DIRECT_ALIGN_BYTES: usize = 4096;

/// Opens `path` a second time for reads that bypass the page cache (`O_DIRECT`), used for bytes
/// the drop-behind has already dropped: the device writes them straight into the response buffer,
/// and no page-cache page is taken. Fails where the file system refuses O_DIRECT (tmpfs: see
/// [`is_permanent_refusal`]) or off Linux; callers then read through the page cache.
pub fn open_direct(path: &Path) -> std::io::Result<Arc<File>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .map(Arc::new)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// Whether an [`open_direct`] failure will not go away (the file system does not support
/// O_DIRECT), as opposed to running out of descriptors or memory.
pub fn is_permanent_refusal(e: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
    ) {
        return true;
    }
    e.kind() == std::io::ErrorKind::Unsupported
}

/// Reads exactly `len` bytes at `pos` through a descriptor from [`open_direct`]: the aligned
/// range around them goes into an aligned buffer, and the result is a view of the wanted bytes.
/// O_DIRECT reads are coherent with the page cache (the kernel writes dirty pages of the range
/// back first), so any committed range may be read this way.
pub fn read_direct(file: &File, pos: u64, len: usize) -> std::io::Result<Bytes> {
    use std::os::fd::AsRawFd;
    let align = DIRECT_ALIGN_BYTES as u64;
    let start = pos / align * align;
    let lead = usize::try_from(pos - start).map_err(std::io::Error::other)?;
    let need = lead
        .checked_add(len)
        .ok_or_else(|| std::io::Error::other("read length overflows"))?;
    let too_long = || std::io::Error::other("read length overflows");
    let span = need
        .div_ceil(DIRECT_ALIGN_BYTES)
        .checked_mul(DIRECT_ALIGN_BYTES)
        .ok_or_else(too_long)?;
    let capacity = span.checked_add(DIRECT_ALIGN_BYTES).ok_or_else(too_long)?;
    // Not zeroed: the device overwrites what is read, and only that is exposed.
    let mut v: Vec<u8> = Vec::with_capacity(capacity);
    let off = v.as_ptr().align_offset(DIRECT_ALIGN_BYTES);
    if off > DIRECT_ALIGN_BYTES {
        return Err(std::io::Error::other("cannot align the read buffer"));
    }
    let mut got = 0usize;
    while got < need {
        let at = libc::off_t::try_from(start + got as u64).map_err(std::io::Error::other)?;
        // SAFETY: the destination `[off + got, off + span)` lies inside `v`'s capacity
        // (`off <= DIRECT_ALIGN_BYTES`, capacity `span + DIRECT_ALIGN_BYTES`), is written only by
        // the kernel, and no reference to it exists during the call.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                v.as_mut_ptr().add(off + got).cast(),
                span - got,
                at,
            )
        };
        match n {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "segment shorter than its committed size",
                ));
            }
            n if n > 0 => {
                got += n as usize;
                if got < need && !got.is_multiple_of(DIRECT_ALIGN_BYTES) {
                    // A short, unaligned read is the end of the file.
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "segment shorter than its committed size",
                    ));
                }
            }
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    // SAFETY: bytes `[0, off)` are alignment padding we never expose but must be initialised
    // before `set_len`; bytes `[off, off + got)` were written by pread above.
    unsafe {
        std::ptr::write_bytes(v.as_mut_ptr(), 0, off);
        v.set_len(off + got);
    }
    Ok(Bytes::from(v).slice(off + lead..off + need))
}

fn range_args(from: u64, to: u64) -> std::io::Result<(libc::off_t, libc::off_t)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "range out of off_t");
    let start = libc::off_t::try_from(from).map_err(|_| bad())?;
    let len = libc::off_t::try_from(to.saturating_sub(from)).map_err(|_| bad())?;
    Ok((start, len))
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (start, len) = range_args(from, to)?;
    if len == 0 {
        return Ok(());
    }
    // SAFETY: the descriptor is owned by `file`, which outlives the call; the call reads no
    // memory of ours.
    let rc =
        unsafe { libc::sync_file_range(file.as_raw_fd(), start, len, libc::SYNC_FILE_RANGE_WRITE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _from: u64, _to: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(target_os = "linux")]
fn advise_dont_need(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (start, len) = range_args(from, to)?;
    if len == 0 {
        return Ok(());
    }
    // SAFETY: as above; posix_fadvise returns the error number instead of setting errno.
    let rc =
        unsafe { libc::posix_fadvise(file.as_raw_fd(), start, len, libc::POSIX_FADV_DONTNEED) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_dont_need(_file: &File, _from: u64, _to: u64) -> std::io::Result<()> {
    Ok(())
}

/// Bytes of `file` in `[from, to)` resident in the page cache (mincore over a read-only
/// mapping), for tests.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn resident_bytes(file: &File, len: u64) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let len_usize = usize::try_from(len).map_err(|_| std::io::Error::other("too long"))?;
    if len_usize == 0 {
        return Ok(0);
    }
    // SAFETY: a fresh shared read-only mapping of an open file, unmapped below; mincore writes
    // one byte per page into a vector of exactly that many bytes.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len_usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if addr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let pages = len_usize.div_ceil(PAGE_BYTES as usize);
        let mut vec = vec![0u8; pages];
        let rc = libc::mincore(addr, len_usize, vec.as_mut_ptr());
        libc::munmap(addr, len_usize);
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(vec.iter().filter(|b| **b & 1 == 1).count() as u64 * PAGE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<File> {
        Arc::new(tempfile::tempfile().unwrap())
    }

    #[test]
    fn zero_window_never_advises() {
        let f = file();
        let mut d = DropBehind::default();
        for size in [0, 1 << 20, 1 << 30] {
            assert!(d.plan(&f, size, 0).is_none());
        }
        assert_eq!(d, DropBehind::default());
    }

    #[test]
    fn writeback_in_steps_and_drop_only_what_was_written_back_earlier() {
        let f = file();
        let window = 16 << 20; // step 4 MiB
        let mut d = DropBehind::default();
        assert!(d.plan(&f, 1 << 20, window).is_none(), "less than a step");
        let a = d.plan(&f, 5 << 20, window).unwrap();
        assert_eq!(a.writeback, Some((0, 5 << 20)));
        assert_eq!(a.drop, None, "nothing is a window behind yet");
        let a = d.plan(&f, 25 << 20, window).unwrap();
        assert_eq!(a.writeback, Some((5 << 20, 25 << 20)));
        // 25 - 16 = 9 MiB is a window behind, but writeback was started only below 5 MiB.
        assert_eq!(a.drop, Some((0, 5 << 20)));
        let a = d.plan(&f, 30 << 20, window).unwrap();
        assert_eq!(a.writeback, Some((25 << 20, 30 << 20)));
        assert_eq!(a.drop, Some((5 << 20, 14 << 20)));
        assert_eq!(
            d,
            DropBehind {
                writeback_started_bytes: 30 << 20,
                dropped_bytes: 14 << 20
            }
        );
    }

    #[test]
    fn drop_marks_are_page_aligned_and_never_pass_the_window() {
        let f = file();
        let mut d = DropBehind::default();
        let window = 1_000_000;
        let mut size = 0u64;
        for i in 0..2000u64 {
            size += 1000 + (i * 7919) % 30_000;
            if let Some(a) = d.plan(&f, size, window)
                && let Some((from, to)) = a.drop
            {
                assert_eq!(from % PAGE_BYTES, 0);
                assert_eq!(to % PAGE_BYTES, 0);
                assert!(to + window <= size, "dropped inside the window");
            }
            assert!(d.dropped_bytes <= d.writeback_started_bytes);
        }
        assert!(d.dropped_bytes > 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn direct_reads_return_exactly_the_range_at_any_alignment() {
        use std::io::Write;
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("seg.log");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut w = File::create(&path).unwrap();
        w.write_all(&data).unwrap(); // still dirty in the page cache: must read coherently
        let f = open_direct(&path).expect("O_DIRECT on the project's file system");
        for (pos, len) in [
            (0usize, 1usize),
            (1, 4095),
            (4095, 2),
            (4096, 4096),
            (12_345, 200_000),
            (299_999, 1),
            (0, 300_000),
        ] {
            let got = read_direct(&f, pos as u64, len).unwrap();
            assert_eq!(&got[..], &data[pos..pos + len], "pos {pos} len {len}");
        }
        assert!(
            read_direct(&f, 299_000, 5_000).is_err(),
            "past the end is an error"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn applied_advice_empties_the_page_cache_of_that_range() {
        use std::io::Write;
        // tmpfs ignores DONTNEED; use a directory on the target's file system.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("seg.log");
        let mut w = File::create(&path).unwrap();
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..8 {
            w.write_all(&chunk).unwrap();
        }
        let f = Arc::new(File::open(&path).unwrap());
        let before = resident_bytes(&f, 8 << 20).unwrap();
        assert!(before >= 7 << 20, "fresh writes are cached ({before})");
        w.sync_data().unwrap(); // writeback done, pages clean
        CacheAdvice::drop_range(f.clone(), 0, 8 << 20).apply();
        let after = resident_bytes(&f, 8 << 20).unwrap();
        assert!(
            after < 1 << 20,
            "dropped pages are gone ({after} bytes still cached)"
        );
        // Contents are untouched.
        let mut buf = vec![0u8; 4096];
        std::os::unix::fs::FileExt::read_exact_at(&*f, &mut buf, 5 << 20).unwrap();
        assert!(buf.iter().all(|b| *b == 7));
    }
}
