//! The one authorization point. Every backend operation names what it is about to do and to
//! what, and asks here before touching anything; the UI's checks are only for convenience.

use app::model::ApiError;

pub use app::model::auth::{Actor, Ctx};

/// What an actor wants to do, and to what.
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
    /// Declare a dataset in an area (domain, subdomain).
    CreateDataset { domain: &'a str, subdomain: &'a str },
    /// See a dataset's metadata.
    ReadDataset { owner: &'a str, domain: &'a str, subdomain: &'a str, shared: bool },
    /// Send a dataset's ciphertext.
    UploadDataset { owner: &'a str },
    /// Fetch a dataset's ciphertext (to open it with the owner's key).
    DownloadDataset { owner: &'a str },
    /// Remove a dataset and its ciphertext.
    DeleteDataset { owner: &'a str },
    /// See a training job, its events and its model.
    ReadJob { owner: &'a str },
    /// Stop a training job.
    CancelJob { owner: &'a str },
    /// See a model version and predict with it.
    ReadModel { owner: &'a str, domain: &'a str, subdomain: &'a str },
    /// Download a model's parameters (they can reveal things about the training rows).
    DownloadModel { owner: &'a str },
    /// Remove a model version.
    DeleteModel { owner: &'a str },
    /// See an area's dashboard.
    ReadAnalytics { domain: &'a str, subdomain: &'a str },
    /// See the machine's load and the queue.
    ReadSystemHealth,
    /// Declare a federation in an area.
    CreateFederation { domain: &'a str, subdomain: &'a str },
    /// See a federation (its task, status and member count, never who the members are).
    ReadFederation { domain: &'a str, subdomain: &'a str },
    /// Become a participant of a federation.
    JoinFederation { domain: &'a str, subdomain: &'a str },
}

pub fn authorize(actor: &Actor, action: Action<'_>) -> Result<(), ApiError> {
    let allowed = match action {
        Action::ReadAccount { owner } | Action::UpdateAccount { owner } | Action::DeleteAccount { owner } => {
            owner == actor.user_id || actor.is_admin()
        }
        Action::ReadAudit => actor.is_admin(),
        Action::CreateDataset { domain, subdomain } => domain == actor.domain && subdomain == actor.subdomain,
        // Shared metadata is visible inside its area; admins see everything for support.
        Action::ReadDataset { owner, domain, subdomain, shared } => {
            owner == actor.user_id || actor.is_admin() || (shared && domain == actor.domain && subdomain == actor.subdomain)
        }
        // Only the owner holds a key that opens the ciphertext; nobody else needs it.
        Action::UploadDataset { owner } | Action::DownloadDataset { owner } => owner == actor.user_id,
        Action::DeleteDataset { owner } => owner == actor.user_id || actor.is_admin(),
        // A job's owner, and admins for support (it shows no rows, only metrics).
        Action::ReadJob { owner } | Action::CancelJob { owner } => owner == actor.user_id || actor.is_admin(),
        // A team sees and uses its area's models; only the owner (and admins) take the
        // parameters away or delete them.
        Action::ReadModel { owner, domain, subdomain } => {
            owner == actor.user_id || actor.is_admin() || (domain == actor.domain && subdomain == actor.subdomain)
        }
        Action::DownloadModel { owner } | Action::DeleteModel { owner } => owner == actor.user_id || actor.is_admin(),
        Action::ReadAnalytics { domain, subdomain } => actor.is_admin() || (domain == actor.domain && subdomain == actor.subdomain),
        Action::ReadSystemHealth => actor.is_admin(),
        // A federation is its area's work: the area declares, sees and joins it; admins see
        // every one for support but take part only in their own area's.
        Action::CreateFederation { domain, subdomain } | Action::JoinFederation { domain, subdomain } => {
            domain == actor.domain && subdomain == actor.subdomain
        }
        Action::ReadFederation { domain, subdomain } => actor.is_admin() || (domain == actor.domain && subdomain == actor.subdomain),
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
    use app::model::auth::Role;

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

    #[test]
    fn datasets_shared_within_their_area_only() {
        let alice = actor("alice", Role::User);
        let admin = actor("root", Role::Admin);
        let read = |owner, domain, subdomain, shared| Action::ReadDataset { owner, domain, subdomain, shared };
        assert!(authorize(&alice, read("alice", "finance", "banking", false)).is_ok());
        assert!(authorize(&alice, read("bob", "healthcare", "oncology", true)).is_ok());
        assert!(authorize(&alice, read("bob", "healthcare", "oncology", false)).is_err());
        assert!(authorize(&alice, read("bob", "healthcare", "cardiology", true)).is_err());
        assert!(authorize(&admin, read("bob", "healthcare", "cardiology", false)).is_ok());
        assert!(authorize(&admin, Action::DownloadDataset { owner: "bob" }).is_err());
        assert!(authorize(&admin, Action::DeleteDataset { owner: "bob" }).is_ok());
        assert!(authorize(&alice, Action::CreateDataset { domain: "healthcare", subdomain: "cardiology" }).is_err());
    }
}
