//! Login rate limits, per account and per client address, kept in the database so that they
//! hold across every node sharing it (an attacker gets 5 tries in all, not 5 per node).
//!
//! Each key is one `login_limit` record holding its theoretical arrival time (GCRA, as the
//! `governor` crate computes it in memory): an attempt at `now` is allowed when
//! `tat − burst × period ≤ now`, and then moves `tat` to `max(tat, now) + period`. The move is a
//! compare-and-set on the record (`WHERE tat = $seen`, or a CREATE under the key's unique
//! index), so two nodes counting the same key at once cannot both spend the last try: the
//! loser reads again. Written here because no crate keeps GCRA state in SurrealDB.

use std::time::Duration;

use app::model::ApiError;
use surrealdb::types::SurrealValue;

use crate::backend::db::Db;
use crate::backend::error::{Error, Result};
use crate::backend::util::now_ms;

/// Burst of `burst` attempts, then one more every `period`.
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub burst: u32,
    pub period: Duration,
}

/// Both limits a node applies. The defaults are the product's; tests that count a burst give
/// the address a long period, so that a slow machine cannot earn a try back mid-count.
#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    pub per_account: Quota,
    pub per_client: Quota,
}

impl Default for LoginLimits {
    /// 5 tries per account, then one a minute; 30 per address, then one every 6 s.
    fn default() -> Self {
        LoginLimits {
            per_account: Quota { burst: 5, period: Duration::from_secs(60) },
            per_client: Quota { burst: 30, period: Duration::from_secs(6) },
        }
    }
}

pub struct LoginLimiter {
    db: Db,
    limits: LoginLimits,
}

#[derive(Debug, Clone, SurrealValue)]
struct LimitRow {
    key: String,
    tat: i64,
}

/// Attempts to count one key before giving up on a key that other nodes keep moving.
const TRIES: usize = 8;

impl LoginLimiter {
    pub fn new(db: Db, limits: LoginLimits) -> Self {
        LoginLimiter { db, limits }
    }

    /// Counts one attempt against both keys; refused with the wait in seconds.
    pub async fn check(&self, account: &str, client: &str) -> Result<()> {
        let waits = [
            self.spend(&format!("client:{client}"), self.limits.per_client).await?,
            self.spend(&format!("account:{account}"), self.limits.per_account).await?,
        ];
        match waits.into_iter().flatten().max() {
            None => Ok(()),
            Some(ms) => Err(ApiError::RateLimited { retry_after: (ms as u64).div_ceil(1000).max(1) }.into()),
        }
    }

    /// Spends one attempt of `key`: `None` when allowed, else the milliseconds to wait.
    async fn spend(&self, key: &str, q: Quota) -> Result<Option<i64>> {
        let period = q.period.as_millis() as i64;
        let window = period * i64::from(q.burst.max(1));
        for _ in 0..TRIES {
            let now = now_ms();
            let mut r = self.db.query("SELECT key, tat FROM login_limit WHERE key = $k LIMIT 1").bind(("k", key.to_owned())).await?;
            let seen: Option<LimitRow> = r.take(0)?;
            let tat = seen.as_ref().map_or(now, |s| s.tat.max(now));
            if tat - window + period > now {
                return Ok(Some(tat - window + period - now));
            }
            let moved = match &seen {
                Some(s) => {
                    let mut r = self
                        .db
                        .query("UPDATE login_limit SET tat = $new WHERE key = $k AND tat = $seen RETURN AFTER")
                        .bind(("k", key.to_owned()))
                        .bind(("seen", s.tat))
                        .bind(("new", tat + period))
                        .await;
                    match r.as_mut().map(|r| r.take::<Vec<LimitRow>>(0)) {
                        Ok(Ok(rows)) => !rows.is_empty(),
                        // A write conflict with another node: read again.
                        _ => false,
                    }
                }
                None => self
                    .db
                    .query("CREATE login_limit CONTENT { key: $k, tat: $new }")
                    .bind(("k", key.to_owned()))
                    .bind(("new", tat + period))
                    .await
                    .and_then(|r| r.check())
                    .is_ok(),
            };
            if moved {
                return Ok(None);
            }
        }
        Err(Error::internal("the login rate limit stayed contended through every retry"))
    }

    /// Forgets keys whose every try is back (their TAT is in the past): nothing to remember.
    pub async fn forget_idle(&self) -> Result<()> {
        self.db.query("DELETE login_limit WHERE tat < $now").bind(("now", now_ms())).await.and_then(|r| r.check())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db(dir: &std::path::Path) -> Db {
        let url = crate::config::DatabaseUrl::SurrealKv(dir.join("db"));
        let db = crate::backend::db::connect(&url).await.unwrap();
        crate::backend::schema::apply(&db).await.unwrap();
        db
    }

    fn limited(r: Result<()>) -> Option<u64> {
        match r {
            Err(e) => match e.api() {
                Some(ApiError::RateLimited { retry_after }) => Some(*retry_after),
                other => panic!("expected a limit, got {other:?}"),
            },
            Ok(()) => None,
        }
    }

    #[tokio::test]
    async fn sixth_attempt_on_one_account_is_refused_with_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let l = LoginLimiter::new(db(dir.path()).await, LoginLimits::default());
        for i in 0..5 {
            assert_eq!(limited(l.check("alice", &format!("10.0.0.{i}")).await), None);
        }
        let wait = limited(l.check("alice", "10.0.0.9").await).expect("the sixth is refused");
        assert!((1..=60).contains(&wait), "{wait}");
        // Another account from a fresh address is unaffected.
        assert_eq!(limited(l.check("bob", "10.0.0.10").await), None);
    }

    #[tokio::test]
    async fn one_address_trying_many_accounts_is_limited() {
        let dir = tempfile::tempdir().unwrap();
        let l = LoginLimiter::new(db(dir.path()).await, LoginLimits::default());
        for i in 0..30 {
            assert_eq!(limited(l.check(&format!("user{i}"), "192.0.2.1").await), None);
        }
        assert!(limited(l.check("user99", "192.0.2.1").await).is_some());
    }

    /// Two limiters on one database are two nodes: together they allow the burst once, even
    /// when every attempt races.
    #[tokio::test]
    async fn nodes_sharing_a_database_share_the_limit_under_concurrent_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let shared = db(dir.path()).await;
        let (a, b) = (LoginLimiter::new(shared.clone(), LoginLimits::default()), LoginLimiter::new(shared, LoginLimits::default()));
        let tries = (0..10).map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            async move { limited(node.check("carol", &format!("198.51.100.{i}")).await) }
        });
        let outcomes = futures::future::join_all(tries).await;
        assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 5, "{outcomes:?}");
        // Tries come back with time: a quota of one a second allows the next after it.
        let quick = Quota { burst: 1, period: Duration::from_millis(300) };
        let l = LoginLimiter::new(a.db.clone(), LoginLimits { per_account: quick, per_client: quick });
        assert_eq!(limited(l.check("dave", "203.0.113.1").await), None);
        assert!(limited(l.check("dave", "203.0.113.1").await).is_some());
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(limited(l.check("dave", "203.0.113.1").await), None);
        l.forget_idle().await.unwrap();
    }
}
