//! Time as the policy sees it: whole Unix seconds from a [`Clock`].
//!
//! The clock is injectable because the policy is all about time (code lifetimes, send periods,
//! rate-limit windows, TOTP steps) and tests must be able to cross those boundaries without
//! sleeping. Production always uses [`SystemClock`].

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the core reads the time; a trait so tests can move it (see [`ManualClock`]).
pub trait Clock: Send + Sync + Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The wall clock, for every process that is not a test.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the wall clock is read (clippy.toml disallows it everywhere else).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests of time-bound rules.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start` (Unix seconds).
    pub fn new(start: i64) -> Self {
        ManualClock(AtomicI64::new(start))
    }
    /// Moves the clock forward, e.g. past a code's lifetime.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
    /// Puts the clock at `now`, e.g. at a TOTP step's boundary.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
