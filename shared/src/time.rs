//! Time as the policy sees it: whole Unix seconds from a [`Clock`].
//!
//! The clock is injectable because the policy is all about time (code lifetimes, send periods,
//! rate-limit windows, TOTP steps) and tests must be able to cross those boundaries without
//! sleeping. Production always uses [`SystemClock`].

use serde::{Deserialize, Serialize};
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

/// A length of time in whole seconds: a code's lifetime, a send period, a rate-limit window,
/// the time allowed for verification. A type of its own so a duration is never added to a
/// count or passed where a moment is expected; in JSON, TOML and forms it is a plain number.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seconds(pub u32);

impl Seconds {
    /// The number of seconds.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The moment this long after `moment` (Unix seconds).
    pub const fn after(self, moment: i64) -> i64 {
        moment + self.0 as i64
    }

    /// The moment this long before `moment` (Unix seconds).
    pub const fn before(self, moment: i64) -> i64 {
        moment - self.0 as i64
    }

    /// As a [`std::time::Duration`], for timers.
    pub const fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0 as u64)
    }
}

impl std::fmt::Display for Seconds {
    /// The bare number, as forms and the settings JSON show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for Seconds {
    fn from(seconds: u32) -> Seconds {
        Seconds(seconds)
    }
}

impl std::str::FromStr for Seconds {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Seconds, Self::Err> {
        s.parse().map(Seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::Seconds;

    #[test]
    fn seconds_move_a_moment_and_read_as_a_number() {
        let s = Seconds(120);
        assert_eq!(s.after(1_000), 1_120);
        assert_eq!(s.before(1_000), 880);
        assert_eq!(s.to_string(), "120");
        assert_eq!("90".parse::<Seconds>(), Ok(Seconds(90)));
        assert!("-1".parse::<Seconds>().is_err());
        assert_eq!(serde_json::to_string(&s).unwrap(), "120");
        assert_eq!(serde_json::from_str::<Seconds>("30").unwrap(), Seconds(30));
    }
}
