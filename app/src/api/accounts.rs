//! Accounts and sessions: who is logged in, registering, logging in and out, the profile, the
//! password, and (for admins) the audit log.

use leptos::prelude::*;

use crate::model::audit::{AuditEntry, AuditQuery};
use crate::model::auth::Me;
#[cfg(feature = "ssr")]
use crate::model::auth::{PasswordChange, ProfileUpdate, RegisterRequest};
use crate::model::ApiError;

/// The logged-in user, or `None` (the session layer has already renewed or ended it).
#[server(prefix = "/api/ui", endpoint = "current_user", output = crate::api::codec::JsonText)]
pub async fn current_user() -> Result<Option<Me>, ApiError> {
    super::with_caller(|b, caller| async move {
        match caller.ctx() {
            Ok(ctx) => b.me(&ctx).await.map(Some),
            Err(ApiError::Unauthorized { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
}

#[server(prefix = "/api/ui", endpoint = "register", output = crate::api::codec::JsonText)]
pub async fn register(username: String, email: String, password: String, domain: String, subdomain: String) -> Result<Me, ApiError> {
    super::with_caller(
        |b, caller| async move { b.register(&caller, RegisterRequest { username, email, password, domain, subdomain }).await },
    )
    .await
}

#[server(prefix = "/api/ui", endpoint = "login", output = crate::api::codec::JsonText)]
pub async fn login(username: String, password: String) -> Result<Me, ApiError> {
    super::with_caller(|b, caller| async move { b.login(&caller, username, password).await }).await
}

#[server(prefix = "/api/ui", endpoint = "logout", output = crate::api::codec::JsonText)]
pub async fn logout() -> Result<(), ApiError> {
    super::with_caller(|b, caller| async move {
        b.logout(&caller).await;
        Ok(())
    })
    .await
}

#[server(prefix = "/api/ui", endpoint = "update_profile", output = crate::api::codec::JsonText)]
pub async fn update_profile(domain: String, subdomain: String) -> Result<Me, ApiError> {
    super::with_ctx(|b, ctx| async move { b.update_profile(&ctx, ProfileUpdate { domain, subdomain }).await }).await
}

#[server(prefix = "/api/ui", endpoint = "change_password", output = crate::api::codec::JsonText)]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), ApiError> {
    super::with_caller(|b, caller| async move { b.change_password(&caller, PasswordChange { current_password, new_password }).await }).await
}

#[server(prefix = "/api/ui", endpoint = "audit_log", output = crate::api::codec::JsonText)]
pub async fn audit_log(query: AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.audit(&ctx, query).await }).await
}
