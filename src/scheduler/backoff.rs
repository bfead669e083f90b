//! Retry backoff for transient failures: exponential from `base`, capped at `max_delay`,
//! jittered so that a burst of failures does not come back as a burst.

use rand::Rng;
use serde::Deserialize;
use std::time::Duration;

/// How much randomness a delay gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// Uniform between zero and the delay.
    Full,
    /// Half the delay plus uniform up to the other half (never much sooner than planned).
    Equal,
}

/// Backoff and attempt limit.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// The delay after the first failed attempt.
    #[serde(with = "humantime_serde")]
    pub base: Duration,
    /// Growth per further attempt.
    pub factor: f64,
    /// The longest delay.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// After this many attempts a message fails with the last reason.
    pub max_attempts: u32,
    /// Randomness of each delay.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(300),
            max_attempts: 10,
            jitter: Jitter::Equal,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt, after `attempts` attempts (1 = the first failed).
    pub fn delay(&self, attempts: u32, rng: &mut impl Rng) -> Duration {
        let planned = self.planned(attempts);
        let ms = planned.as_millis() as u64;
        let jittered = match self.jitter {
            Jitter::None => ms,
            Jitter::Full => rng.random_range(0..=ms),
            Jitter::Equal => ms / 2 + rng.random_range(0..=ms - ms / 2),
        };
        Duration::from_millis(jittered)
    }

    /// The delay before jitter: `base * factor^(attempts-1)`, capped.
    pub fn planned(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(64) as i32;
        let factor = if self.factor.is_finite() {
            self.factor.max(1.0)
        } else {
            1.0
        };
        let secs = self.base.as_secs_f64() * factor.powi(exponent);
        let cap = self.max_delay.as_secs_f64();
        Duration::from_secs_f64(if secs.is_finite() { secs.min(cap) } else { cap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::default()
        };
        let mut rng = rand::rng();
        let delays: Vec<u64> = (1..=12)
            .map(|a| policy.delay(a, &mut rng).as_secs())
            .collect();
        assert_eq!(
            delays,
            vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
        );
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let mut rng = rand::rng();
        for jitter in [Jitter::Full, Jitter::Equal] {
            let policy = RetryPolicy {
                jitter,
                ..RetryPolicy::default()
            };
            for attempts in 1..15 {
                let planned = policy.planned(attempts);
                let low = if jitter == Jitter::Equal {
                    planned / 2
                } else {
                    Duration::ZERO
                };
                for _ in 0..50 {
                    let d = policy.delay(attempts, &mut rng);
                    assert!(
                        d >= low && d <= planned,
                        "{d:?} outside {low:?}..={planned:?}"
                    );
                }
            }
        }
    }
}
