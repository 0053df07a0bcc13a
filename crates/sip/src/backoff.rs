use std::time::Duration;

/// Retry delays after a registration flow broke: exponential with jitter, never faster than
/// every 3 s and never slower than every 5 minutes, and it never gives up.
///
/// Sans-IO: the caller passes the jitter source (a value in `0.0..1.0`) so tests are exact.
#[derive(Debug, Clone)]
pub struct RetryBackoff {
    attempt: u32,
}

impl RetryBackoff {
    pub const MIN: Duration = Duration::from_secs(3);
    pub const MAX: Duration = Duration::from_secs(300);

    pub fn new() -> Self {
        Self { attempt: 0 }
    }

    /// The delay before the next attempt. `jitter` in `0.0..1.0` picks a point in the upper half
    /// of the window, so many clients that lost the same server do not return in lock-step.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let ceiling = Self::MIN
            .saturating_mul(1u32 << self.attempt.min(8))
            .min(Self::MAX);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let delay = ceiling.mul_f64(0.5 + 0.5 * jitter);
        delay.max(Self::MIN)
    }

    /// Called after a successful registration.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Default for RetryBackoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = RetryBackoff::new();
        let upper: Vec<u64> = (0..12).map(|_| b.next_delay(1.0).as_secs()).collect();
        assert_eq!(upper, [3, 6, 12, 24, 48, 96, 192, 300, 300, 300, 300, 300]);
        b.reset();
        assert_eq!(b.next_delay(1.0), Duration::from_secs(3));
    }

    #[test]
    fn never_faster_than_three_seconds_whatever_the_jitter() {
        let mut b = RetryBackoff::new();
        for jitter in [0.0, -1.0, f64::NAN, 0.3, 0.9, 2.0] {
            let d = b.next_delay(jitter);
            assert!(
                d >= RetryBackoff::MIN && d <= RetryBackoff::MAX,
                "{d:?} for {jitter}"
            );
        }
    }
}
