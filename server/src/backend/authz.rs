//! The one authorization point. Every backend operation names what it is about to do and to
//! what, and asks here before touching anything; the UI's checks are only for convenience.

use app::model::auth::Role;
use app::model::ApiError;

/// The authenticated caller, as every backend operation receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub domain: String,
    pub subdomain: String,
    /// The access token's id and expiry, so logout can revoke exactly this token.
    pub token_id: String,
    pub token_exp: i64,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What an actor wants to do. Later layers add their resources here (datasets, jobs, models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Read an account's profile.
    ReadAccount { owner: &'a str },
    /// Change an account's domain, subdomain or password.
    UpdateAccount { owner: &'a str },
    /// Delete an account.
    DeleteAccount { owner: &'a str },
    /// Read the audit log.
    ReadAudit,
}

impl Action<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Action::ReadAccount { .. } => "user.read",
            Action::UpdateAccount { .. } => "user.update",
            Action::DeleteAccount { .. } => "user.delete",
            Action::ReadAudit => "audit.read",
        }
    }
}

pub fn authorize(actor: &Actor, action: Action<'_>) -> Result<(), ApiError> {
    let allowed = match action {
        Action::ReadAccount { owner } | Action::UpdateAccount { owner } | Action::DeleteAccount { owner } => {
            owner == actor.user_id || actor.is_admin()
        }
        Action::ReadAudit => actor.is_admin(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: &str, role: Role) -> Actor {
        Actor {
            user_id: id.into(),
            username: id.into(),
            role,
            domain: "healthcare".into(),
            subdomain: "oncology".into(),
            token_id: "t".into(),
            token_exp: 0,
        }
    }

    #[test]
    fn owners_and_admins_only() {
        let alice = actor("alice", Role::User);
        let admin = actor("root", Role::Admin);
        assert!(authorize(&alice, Action::UpdateAccount { owner: "alice" }).is_ok());
        assert_eq!(authorize(&alice, Action::UpdateAccount { owner: "bob" }), Err(ApiError::Forbidden));
        assert_eq!(authorize(&alice, Action::ReadAudit), Err(ApiError::Forbidden));
        assert!(authorize(&admin, Action::ReadAudit).is_ok());
        assert!(authorize(&admin, Action::DeleteAccount { owner: "bob" }).is_ok());
    }
}
