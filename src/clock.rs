//! The only place in the crate that reads time.
//!
//! Contract: `Clock::now_ms` is wall-clock milliseconds since the Unix epoch (record timestamps,
//! retention, segment age); `Clock::monotonic_ms` only ever grows and measures intervals
//! (timeouts, flush intervals). `ManualClock` moves only when a test says so. tidy.rs checks that
//! nothing outside this file calls `SystemTime::now` or `Instant::now`.
//! Imports nothing from the crate.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Wall-clock time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Milliseconds on a clock that never goes back, from an arbitrary origin.
    fn monotonic_ms(&self) -> i64;
}

pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    fn monotonic_ms(&self) -> i64 {
        self.origin.elapsed().as_millis() as i64
    }
}

/// A clock that moves only through `advance_ms` / `set_ms`: wall and monotonic move together.
#[derive(Debug)]
pub struct ManualClock {
    wall_ms: AtomicI64,
    mono_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_wall_ms: i64) -> Self {
        ManualClock {
            wall_ms: AtomicI64::new(start_wall_ms),
            mono_ms: AtomicI64::new(0),
        }
    }
    pub fn advance_ms(&self, ms: i64) {
        self.wall_ms.fetch_add(ms, Ordering::SeqCst);
        self.mono_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }
    pub fn set_ms(&self, wall_ms: i64) {
        self.wall_ms.store(wall_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::SeqCst)
    }
    fn monotonic_ms(&self) -> i64 {
        self.mono_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.monotonic_ms(), 0);
        c.advance_ms(250);
        assert_eq!(c.now_ms(), 1_250);
        assert_eq!(c.monotonic_ms(), 250);
    }
}
