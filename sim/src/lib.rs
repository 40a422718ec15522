//! Loopback simulators of vendor ATS APIs (as `../shared/reference/vendor-apis/` describes
//! them), serving deterministic generated data. Used by mapper's tests and benchmarks, and to
//! record the connectors' sandbox cassettes. Not part of the engine.

#![allow(
    clippy::result_large_err,
    clippy::should_implement_trait,
    clippy::manual_is_multiple_of
)]

pub mod ashby;
pub mod gem;
pub mod greenhouse;
pub mod lever;
pub mod smartrecruiters;
pub mod teamtailor;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deterministic pseudo-random numbers (splitmix64): the same seed, the same dataset.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    /// One element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// ISO-8601 UTC with milliseconds, `secs` after 2023-01-01T00:00:00Z.
pub fn ts(secs: u64) -> String {
    let base_days: i64 = 19358; // 2023-01-01 in days since the epoch
    let total = secs as i64;
    let days = base_days + total.div_euclid(86_400);
    let rem = total.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        (secs * 7) % 1000
    )
}

/// The date part of [`ts`].
pub fn date(secs: u64) -> String {
    ts(secs)[..10].to_owned()
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A sliding one-second window: `allow()` is false once `limit` requests arrived in the
/// last second.
pub struct Window {
    limit: usize,
    seen: Mutex<VecDeque<Instant>>,
}

impl Window {
    /// A window of `limit` requests per second.
    pub fn new(limit: usize) -> Self {
        Window {
            limit,
            seen: Mutex::new(VecDeque::new()),
        }
    }
    /// Counts a request; false when it is over the limit.
    pub fn allow(&self) -> bool {
        let now = Instant::now();
        let mut q = self.seen.lock().unwrap();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            q.pop_front();
        }
        if q.len() >= self.limit {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// Non-ASCII and plain first names.
pub const FIRST: &[&str] = &[
    "Ada", "Inês", "Jörg", "Zoë", "Łukasz", "Søren", "Chloé", "José", "Aiko", "Björn", "Olamide",
    "Marisol", "Tomasz", "Lena", "Ngozi", "Sanjay", "Émile", "Yara", "Nuno", "Ryō", "Mei", "Omar",
    "Greta", "Kwame",
];
/// Non-ASCII and plain last names.
pub const LAST: &[&str] = &[
    "Lovelace",
    "Carvalho",
    "Müller",
    "Ødegård",
    "Wróbel",
    "Kjær",
    "Dubois",
    "García",
    "Tanaka",
    "Sjöberg",
    "Adeyemi",
    "Ortega",
    "Wrona",
    "Fischer",
    "Okafor",
    "Iyer",
    "Zoë-Laurent",
    "Haddad",
    "Gonçalves",
    "Satō",
    "李",
    "Nakamura",
    "Lindqvist",
    "Mensah",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc_millis() {
        assert_eq!(&ts(0)[..19], "2023-01-01T00:00:00");
        assert_eq!(&ts(86_400 * 59)[..10], "2023-03-01");
        assert_eq!(&ts(86_400 * 365)[..10], "2024-01-01");
        assert!(ts(12345).ends_with('Z') && ts(12345).len() == 24);
    }
}
