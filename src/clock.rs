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

/// The real clock with wall-clock steps applied on demand (an NTP step, for fault schedules):
/// `now_ms` is the system's time plus every step so far; `monotonic_ms` is the system's, untouched.
#[derive(Debug, Default)]
pub struct SteppedClock {
    system: SystemClock,
    wall_step_ms: AtomicI64,
}

impl SteppedClock {
    pub fn new() -> Self {
        Self::default()
    }
    /// Moves the wall clock by `ms` (negative: back), from now on.
    pub fn step_wall_ms(&self, ms: i64) {
        self.wall_step_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for SteppedClock {
    fn now_ms(&self) -> i64 {
        self.system
            .now_ms()
            .saturating_add(self.wall_step_ms.load(Ordering::SeqCst))
    }
    fn monotonic_ms(&self) -> i64 {
        self.system.monotonic_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stepped_clock_moves_its_wall_time_only() {
        let c = SteppedClock::new();
        let (wall, mono) = (c.now_ms(), c.monotonic_ms());
        c.step_wall_ms(-3_600_000);
        let stepped = c.now_ms();
        assert!(
            stepped <= wall - 3_600_000 + 1_000 && stepped >= wall - 3_600_000,
            "{stepped}"
        );
        assert!(c.monotonic_ms() >= mono && c.monotonic_ms() < mono + 1_000);
        c.step_wall_ms(3_600_000);
        assert!(c.now_ms() >= wall);
    }

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
