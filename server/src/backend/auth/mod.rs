//! Accounts and sessions: registration, login, refresh-token rotation, logout, profile
//! changes. Every operation records an audit entry, successful or not.

pub mod password;
pub mod ratelimit;
pub mod tokens;

use std::sync::Arc;

use surrealdb::types::SurrealValue;
use tokio::sync::Mutex;

use app::model::auth::{Me, PasswordChange, ProfileUpdate, RegisterRequest, RegisteredUser, Role};
use app::model::ApiError;

use super::audit::AuditLog;
use super::authz::{authorize, Action, Actor, Ctx};
use super::db::Db;
use super::util::{now_rfc3339, now_unix, random_id};
use crate::backend::error::{violated_index, Result};
use ratelimit::LoginLimiter;
use tokens::{new_refresh_token, TokenKeys, ACCESS_TTL_SECS, REFRESH_TTL_SECS};

pub const ANONYMOUS: &str = "anonymous";

#[derive(Debug, Clone, SurrealValue)]
struct AccountRow {
    uid: String,
    username: String,
    email: String,
    password_hash: String,
    domain: String,
    subdomain: String,
    role: String,
    created_at: String,
}

impl AccountRow {
    fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::User)
    }

    fn me(&self) -> Me {
        Me {
            id: self.uid.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            domain: self.domain.clone(),
            subdomain: self.subdomain.clone(),
            role: self.role(),
            created_at: self.created_at.clone(),
        }
    }
}

#[derive(Debug, Clone, SurrealValue)]
struct RefreshRow {
    token_hash: String,
    user_id: String,
    family: String,
    expires_at: i64,
    used: bool,
    revoked: bool,
    /// When it was rotated (Unix seconds) and from which client address: a second renewal
    /// from the same client within [`REUSE_GRACE_SECS`] is a race, not a theft.
    #[surreal(default)]
    used_at: Option<i64>,
    #[surreal(default)]
    used_by: Option<String>,
}

/// How long after a rotation the same client may present the old refresh token again and get
/// a session of the same family: a browser whose access token expired sends its requests at
/// once, and each may renew (on one node or on several). Auth0 calls this the reuse interval.
pub const REUSE_GRACE_SECS: i64 = 10;

impl RefreshRow {
    /// Rotated moments ago by this same client: a concurrent renewal.
    fn in_grace(&self, client: &str) -> bool {
        self.used
            && !self.revoked
            && self.used_by.as_deref() == Some(client)
            && self.used_at.is_some_and(|t| now_unix() - t <= REUSE_GRACE_SECS)
    }
}

/// A new session: what API clients get in the body, what browsers get as cookies.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub access_expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub me: Me,
}

pub struct Auth {
    db: Db,
    keys: TokenKeys,
    audit: Arc<AuditLog>,
    limiter: LoginLimiter,
    /// A username that is made admin when it registers (configuration), besides the first user.
    admin_username: Option<String>,
    /// Serialises this node's registrations; across nodes the `first_admin` claim decides.
    registering: Mutex<()>,
}

fn wrong_credentials() -> ApiError {
    ApiError::unauthorized("wrong username or password")
}

fn refresh_invalid() -> ApiError {
    ApiError::unauthorized("your session has ended; log in again")
}

impl Auth {
    pub fn new(db: Db, keys: TokenKeys, audit: Arc<AuditLog>, admin_username: Option<String>, limits: ratelimit::LoginLimits) -> Self {
        Auth {
            limiter: LoginLimiter::new(db.clone(), limits),
            db,
            keys,
            audit,
            admin_username: admin_username.map(|u| u.trim().to_lowercase()),
            registering: Mutex::new(()),
        }
    }

    /// How many rows `table` holds (`account`: is this the first registration; `first_admin`:
    /// has another node's first registration claimed the admin role).
    async fn rows(&self, table: &'static str) -> Result<i64> {
        let mut r = self.db.query(format!("SELECT count() AS n FROM {table} GROUP ALL")).await?;
        Ok(r.take::<Option<i64>>((0, "n"))?.unwrap_or(0))
    }

    async fn find_by(&self, field: &'static str, value: &str) -> Result<Option<AccountRow>> {
        let sql = format!("SELECT * OMIT id FROM account WHERE {field} = $v LIMIT 1");
        let mut r = self.db.query(sql).bind(("v", value.to_owned())).await?;
        Ok(r.take::<Option<AccountRow>>(0)?)
    }

    pub async fn register(&self, req: RegisterRequest, client: &str) -> Result<RegisteredUser> {
        const ACTION: &str = "auth.register";
        let req = req.normalised();
        if let Err(e) = req.validate() {
            return self.audit.refuse(ANONYMOUS, ACTION, &req.username, client, e).await;
        }
        let _one_at_a_time = self.registering.lock().await;
        if self.find_by("username", &req.username).await?.is_some() {
            let e = ApiError::Conflict { message: "this username is taken".into(), field: Some("username".into()) };
            return self.audit.refuse(ANONYMOUS, ACTION, &req.username, client, e).await;
        }
        if self.find_by("email", &req.email).await?.is_some() {
            let e = ApiError::Conflict { message: "an account with this email exists; log in instead".into(), field: Some("email".into()) };
            return self.audit.refuse(ANONYMOUS, ACTION, &req.username, client, e).await;
        }
        let first = self.rows("account").await? == 0;
        let named_admin = self.admin_username.as_deref() == Some(req.username.as_str());
        let mut row = AccountRow {
            uid: random_id(),
            username: req.username.clone(),
            email: req.email.clone(),
            password_hash: password::hash(req.password).await?,
            domain: req.domain,
            subdomain: req.subdomain,
            role: if first || named_admin { Role::Admin } else { Role::User }.as_str().to_owned(),
            created_at: now_rfc3339(),
        };
        const CREATE: &str = "CREATE account CONTENT $row";
        // The first account claims the one `first_admin` row in the same transaction: when the
        // first registrations reach two nodes at once, the claim's unique index (or the store's
        // conflict check) lets one commit, and the other is created again as a user.
        const CLAIM_AND_CREATE: &str = "BEGIN; CREATE first_admin CONTENT { slot: 1, uid: $row.uid }; CREATE account CONTENT $row; COMMIT;";
        // A store that reports the race as a write conflict is asked again, and then answers
        // with the claim's index.
        let mut created = crate::backend::db::retry_conflicts(|| {
            let row = row.clone();
            async move {
                self.db
                    .query(if first { CLAIM_AND_CREATE } else { CREATE })
                    .bind(("row", row))
                    .await
                    .and_then(crate::backend::db::committed)
            }
        })
        .await;
        // A failed transaction's statements may all report just that it failed, so whether the
        // claim was lost is read from the table, not from the error.
        if first && created.is_err() && self.rows("first_admin").await? > 0 {
            row.role = if named_admin { Role::Admin } else { Role::User }.as_str().to_owned();
            created = self.db.query(CREATE).bind(("row", row.clone())).await.and_then(|r| r.check());
        }
        let role = row.role();
        if let Err(e) = created {
            if matches!(violated_index(&e), Some("account_username" | "account_email")) {
                let e = ApiError::Conflict { message: "this username or email is taken".into(), field: None };
                return self.audit.refuse(ANONYMOUS, ACTION, &row.username, client, e).await;
            }
            return Err(e.into());
        }
        self.audit.record(&row.uid, ACTION, &row.uid, client, &format!("ok (role {})", role.as_str())).await?;
        Ok(RegisteredUser { id: row.uid, username: row.username, domain: row.domain, subdomain: row.subdomain })
    }

    pub async fn login(&self, username: &str, password: String, client: &str) -> Result<Session> {
        const ACTION: &str = "auth.login";
        let username = username.trim().to_lowercase();
        if let Err(e) = self.limiter.check(&username, client).await {
            return self.audit.refuse(ANONYMOUS, ACTION, &username, client, e).await;
        }
        let account = self.find_by("username", &username).await?;
        let ok = password::verify(password, account.as_ref().map(|a| a.password_hash.clone())).await?;
        match account {
            Some(a) if ok => {
                let session = self.new_session(&a, &random_id()).await?;
                self.audit.record(&a.uid, ACTION, &a.uid, client, "ok").await?;
                Ok(session)
            }
            _ => self.audit.refuse(ANONYMOUS, ACTION, &username, client, wrong_credentials()).await,
        }
    }

    async fn new_session(&self, a: &AccountRow, family: &str) -> Result<Session> {
        let (access_token, _) = self.keys.issue(&a.uid, a.role())?;
        let (refresh_token, hash) = new_refresh_token();
        let row = RefreshRow {
            token_hash: hash,
            user_id: a.uid.clone(),
            family: family.to_owned(),
            expires_at: now_unix() + REFRESH_TTL_SECS,
            used: false,
            revoked: false,
            used_at: None,
            used_by: None,
        };
        self.db.query("CREATE refresh_token CONTENT $row").bind(("row", row)).await.and_then(|r| r.check())?;
        Ok(Session {
            access_token,
            access_expires_in: ACCESS_TTL_SECS as u64,
            refresh_token,
            refresh_expires_in: REFRESH_TTL_SECS as u64,
            me: a.me(),
        })
    }

    /// Rotates a refresh token. A token that was already rotated is a sign it was stolen:
    /// its whole family (every token descended from the same login) is revoked, unless the
    /// same client rotated it moments ago ([`REUSE_GRACE_SECS`]): then it was two renewals
    /// racing, and this one gets a session of the same family too.
    pub async fn refresh(&self, token: &str, client: &str) -> Result<Session> {
        const ACTION: &str = "auth.refresh";
        let hash = super::util::sha256_hex(token.as_bytes());
        let Some(row) = self.find_refresh(&hash).await? else {
            return self.audit.refuse(ANONYMOUS, ACTION, "unknown token", client, refresh_invalid()).await;
        };
        if row.in_grace(client) {
            return self.renew_in_grace(&row, client).await;
        }
        if row.used || row.revoked {
            if row.used && !row.revoked {
                self.revoke_family(&row.family).await?;
                self.audit
                    .record(&row.user_id, "auth.refresh_reuse", &row.family, client, "denied: rotated token reused; session family revoked")
                    .await?;
            }
            return self.audit.refuse(&row.user_id, ACTION, &row.family, client, refresh_invalid()).await;
        }
        if row.expires_at <= now_unix() {
            return self.audit.refuse(&row.user_id, ACTION, &row.family, client, refresh_invalid()).await;
        }
        // Mark used only if nobody else did in the meantime (two racing refreshes: one wins).
        // Nodes racing on one token conflict in the store: retried, the loser then finds it used.
        let mut upd = crate::backend::db::retry_conflicts(|| {
            let (h, c) = (hash.clone(), client.to_owned());
            async move {
                self.db
                    .query("UPDATE refresh_token SET used = true, used_at = $t, used_by = $c WHERE token_hash = $h AND used = false AND revoked = false RETURN AFTER")
                    .bind(("h", h))
                    .bind(("t", now_unix()))
                    .bind(("c", c))
                    .await?
                    .check()
            }
        })
        .await?;
        let won: Vec<RefreshRow> = upd.take(0)?;
        if won.is_empty() {
            // Another renewal got there first: from this client just now, a race to honour.
            if let Some(now) = self.find_refresh(&hash).await?.filter(|r| r.in_grace(client)) {
                return self.renew_in_grace(&now, client).await;
            }
            self.revoke_family(&row.family).await?;
            return self.audit.refuse(&row.user_id, ACTION, &row.family, client, refresh_invalid()).await;
        }
        let Some(account) = self.find_by("uid", &row.user_id).await? else {
            return self.audit.refuse(&row.user_id, ACTION, &row.family, client, refresh_invalid()).await;
        };
        let session = self.new_session(&account, &row.family).await?;
        self.audit.record(&account.uid, ACTION, &row.family, client, "ok").await?;
        Ok(session)
    }

    /// Drops login limits with every try back (see [`LoginLimiter::forget_idle`]).
    pub async fn forget_idle_limits(&self) -> Result<()> {
        self.limiter.forget_idle().await
    }

    /// The session for a renewal that raced another one from the same client.
    async fn renew_in_grace(&self, row: &RefreshRow, client: &str) -> Result<Session> {
        const ACTION: &str = "auth.refresh";
        let Some(account) = self.find_by("uid", &row.user_id).await? else {
            return self.audit.refuse(&row.user_id, ACTION, &row.family, client, refresh_invalid()).await;
        };
        let session = self.new_session(&account, &row.family).await?;
        self.audit.record(&account.uid, ACTION, &row.family, client, "ok (a concurrent renewal by the same client)").await?;
        Ok(session)
    }

    /// A new session for an account that has just proven itself some other way (a password
    /// change, which ends the old sessions).
    pub async fn session_for(&self, user_id: &str) -> Result<Session> {
        let a = self.find_by("uid", user_id).await?.ok_or(ApiError::NotFound)?;
        self.new_session(&a, &random_id()).await
    }

    async fn find_refresh(&self, hash: &str) -> Result<Option<RefreshRow>> {
        let mut r = self.db.query("SELECT * OMIT id FROM refresh_token WHERE token_hash = $h LIMIT 1").bind(("h", hash.to_owned())).await?;
        Ok(r.take::<Option<RefreshRow>>(0)?)
    }

    async fn revoke_family(&self, family: &str) -> Result<()> {
        self.db
            .query("UPDATE refresh_token SET revoked = true WHERE family = $f")
            .bind(("f", family.to_owned()))
            .await
            .and_then(|r| r.check())?;
        Ok(())
    }

    /// Checks an access token and that its user still exists and it was not logged out.
    pub async fn authenticate(&self, token: &str) -> Result<Actor> {
        let claims = self.keys.verify(token)?;
        let mut r =
            self.db.query("SELECT count() AS n FROM revoked_access WHERE jti = $j GROUP ALL").bind(("j", claims.jti.clone())).await?;
        let revoked: Option<i64> = r.take((0, "n"))?;
        if revoked.unwrap_or(0) > 0 {
            return Err(ApiError::unauthorized("you have logged out; log in again").into());
        }
        let Some(a) = self.find_by("uid", &claims.sub).await? else {
            return Err(ApiError::unauthorized("this account no longer exists").into());
        };
        Ok(Actor {
            user_id: a.uid.clone(),
            username: a.username.clone(),
            // The stored role, not the token's: a demotion takes effect at once.
            role: a.role(),
            domain: a.domain,
            subdomain: a.subdomain,
            token_id: claims.jti,
            token_exp: claims.exp,
        })
    }

    /// Ends a session: revokes the refresh token's family and, when known, the access token.
    pub async fn logout(&self, actor: Option<&Actor>, refresh_token: Option<&str>, client: &str) -> Result<()> {
        let mut who = actor.map(|a| a.user_id.clone());
        if let Some(token) = refresh_token {
            if let Some(row) = self.find_refresh(&super::util::sha256_hex(token.as_bytes())).await? {
                self.revoke_family(&row.family).await?;
                who.get_or_insert(row.user_id);
            }
        }
        if let Some(a) = actor {
            self.db
                .query("CREATE revoked_access CONTENT { jti: $j, expires_at: $e }")
                .bind(("j", a.token_id.clone()))
                .bind(("e", a.token_exp))
                .await
                .and_then(|r| r.check())?;
        }
        let who = who.unwrap_or_else(|| ANONYMOUS.to_owned());
        self.audit.record(&who, "auth.logout", &who, client, "ok").await
    }

    pub async fn me(&self, actor: &Actor) -> Result<Me> {
        authorize(actor, Action::ReadAccount { owner: &actor.user_id })?;
        self.find_by("uid", &actor.user_id).await?.map(|a| a.me()).ok_or_else(|| ApiError::NotFound.into())
    }

    pub async fn update_profile(&self, ctx: &Ctx, owner: &str, update: ProfileUpdate) -> Result<Me> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "user.update_profile";
        if let Err(e) = authorize(actor, Action::UpdateAccount { owner }) {
            return self.audit.refuse(&actor.user_id, ACTION, owner, client, e).await;
        }
        if let Err(e) = update.validate() {
            return self.audit.refuse(&actor.user_id, ACTION, owner, client, e).await;
        }
        let mut r = self
            .db
            .query("UPDATE account SET domain = $d, subdomain = $s WHERE uid = $u RETURN AFTER")
            .bind(("d", update.domain.clone()))
            .bind(("s", update.subdomain.clone()))
            .bind(("u", owner.to_owned()))
            .await?;
        let rows: Vec<AccountRow> = r.take(0)?;
        let Some(a) = rows.into_iter().next() else {
            return self.audit.refuse(&actor.user_id, ACTION, owner, client, ApiError::NotFound).await;
        };
        self.audit.record(&actor.user_id, ACTION, owner, client, &format!("ok ({}/{})", a.domain, a.subdomain)).await?;
        Ok(a.me())
    }

    /// Changes the password and ends every other session of the account.
    pub async fn change_password(&self, ctx: &Ctx, change: PasswordChange) -> Result<()> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "user.change_password";
        let owner = actor.user_id.clone();
        if let Err(e) = authorize(actor, Action::UpdateAccount { owner: &owner }) {
            return self.audit.refuse(&owner, ACTION, &owner, client, e).await;
        }
        if let Err(e) = change.validate() {
            return self.audit.refuse(&owner, ACTION, &owner, client, e).await;
        }
        let Some(a) = self.find_by("uid", &owner).await? else {
            return self.audit.refuse(&owner, ACTION, &owner, client, ApiError::NotFound).await;
        };
        if !password::verify(change.current_password, Some(a.password_hash.clone())).await? {
            let e = ApiError::field("current_password", "this is not your current password");
            return self.audit.refuse(&owner, ACTION, &owner, client, e).await;
        }
        let hash = password::hash(change.new_password).await?;
        // One transaction: a new password with the old sessions still valid, or sessions
        // ended with the old password still set, would both be worse than either state.
        crate::backend::db::retry_conflicts(|| {
            let (hash, owner) = (hash.clone(), owner.clone());
            async move {
                self.db
                    .query("BEGIN; UPDATE account SET password_hash = $p WHERE uid = $u; UPDATE refresh_token SET revoked = true WHERE user_id = $u; COMMIT;")
                    .bind(("p", hash))
                    .bind(("u", owner))
                    .await
                    .and_then(crate::backend::db::committed)
            }
        })
        .await?;
        self.audit.record(&owner, ACTION, &owner, client, "ok (other sessions ended)").await
    }

    pub async fn delete_account(&self, ctx: &Ctx, owner: &str) -> Result<()> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "user.delete";
        if let Err(e) = authorize(actor, Action::DeleteAccount { owner }) {
            return self.audit.refuse(&actor.user_id, ACTION, owner, client, e).await;
        }
        // One transaction, so an account is never gone with its sessions still valid.
        let mut r = crate::backend::db::retry_conflicts(|| async move {
            self.db
                .query("BEGIN; DELETE account WHERE uid = $u RETURN BEFORE; UPDATE refresh_token SET revoked = true WHERE user_id = $u; COMMIT;")
                .bind(("u", owner.to_owned()))
                .await
                .and_then(crate::backend::db::committed)
        })
        .await?;
        // `BEGIN` has a response of its own: the delete is statement 1.
        let gone: Vec<AccountRow> = r.take(1)?;
        if gone.is_empty() {
            return self.audit.refuse(&actor.user_id, ACTION, owner, client, ApiError::NotFound).await;
        }
        self.audit.record(&actor.user_id, ACTION, owner, client, "ok").await
    }

    pub async fn audit_list(&self, ctx: &Ctx, q: &app::model::audit::AuditQuery) -> Result<Vec<app::model::audit::AuditEntry>> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        if let Err(e) = authorize(actor, Action::ReadAudit) {
            return self.audit.refuse(&actor.user_id, "audit.read", "audit", client, e).await;
        }
        self.audit.list(q).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewal_from_another_address_is_not_in_grace() {
        let row = |used_at: i64, used_by: &str, revoked: bool| RefreshRow {
            token_hash: String::new(),
            user_id: String::new(),
            family: String::new(),
            expires_at: now_unix() + 60,
            used: true,
            revoked,
            used_at: Some(used_at),
            used_by: Some(used_by.to_owned()),
        };
        let now = now_unix();
        assert!(row(now, "10.0.0.1", false).in_grace("10.0.0.1"));
        assert!(!row(now, "10.0.0.1", false).in_grace("10.0.0.2"), "another client");
        assert!(!row(now - REUSE_GRACE_SECS - 1, "10.0.0.1", false).in_grace("10.0.0.1"), "too late");
        assert!(!row(now, "10.0.0.1", true).in_grace("10.0.0.1"), "a revoked family stays revoked");
    }
}
