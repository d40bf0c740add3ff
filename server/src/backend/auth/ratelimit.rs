//! Login rate limits, per account and per client address (GCRA from `governor`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use app::model::ApiError;

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

/// Burst of `burst` attempts, then one more every `period`.
fn quota(burst: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst)
}

impl Default for LoginLimiter {
    /// 5 tries per account, then one a minute; 30 per address, then one every 6 s.
    fn default() -> Self {
        LoginLimiter::new(quota(5, Duration::from_secs(60)), quota(30, Duration::from_secs(6)))
    }
}

impl LoginLimiter {
    pub fn new(account: Quota, client: Quota) -> Self {
        LoginLimiter { per_account: RateLimiter::keyed(account), per_client: RateLimiter::keyed(client), clock: DefaultClock::default() }
    }

    /// Counts one attempt against both keys; refused with the wait in seconds.
    pub fn check(&self, account: &str, client: &str) -> Result<(), ApiError> {
        let now = self.clock.now();
        let wait = [self.per_client.check_key(&client.to_owned()).err(), self.per_account.check_key(&account.to_owned()).err()]
            .into_iter()
            .flatten()
            .map(|n| n.wait_time_from(now))
            .max();
        if self.per_client.len() > 100_000 || self.per_account.len() > 100_000 {
            self.per_client.retain_recent();
            self.per_account.retain_recent();
        }
        match wait {
            None => Ok(()),
            Some(w) => Err(ApiError::RateLimited { retry_after: w.as_secs() + u64::from(w.subsec_nanos() > 0) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_attempt_on_one_account_is_refused_with_a_wait() {
        let l = LoginLimiter::default();
        for i in 0..5 {
            assert!(l.check("alice", &format!("10.0.0.{i}")).is_ok());
        }
        match l.check("alice", "10.0.0.9") {
            Err(ApiError::RateLimited { retry_after }) => assert!((1..=60).contains(&retry_after), "{retry_after}"),
            other => panic!("expected a limit, got {other:?}"),
        }
        // Another account from a fresh address is unaffected.
        assert!(l.check("bob", "10.0.0.10").is_ok());
    }

    #[test]
    fn one_address_trying_many_accounts_is_limited() {
        let l = LoginLimiter::default();
        for i in 0..30 {
            assert!(l.check(&format!("user{i}"), "192.0.2.1").is_ok());
        }
        assert!(matches!(l.check("user99", "192.0.2.1"), Err(ApiError::RateLimited { .. })));
    }
}
