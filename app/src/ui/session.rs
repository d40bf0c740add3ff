//! The browser session as the UI sees it: who is logged in, and the actions that change it.
//! The user resource re-runs whenever one of those actions completes.

use leptos::prelude::*;

use crate::api::{ChangePassword, Login, Logout, Register, UpdateProfile};
use crate::model::auth::Me;
use crate::model::ApiError;

#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<Me>, ApiError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub register: ServerAction<Register>,
    pub update_profile: ServerAction<UpdateProfile>,
    pub change_password: ServerAction<ChangePassword>,
}

pub fn provide_session() {
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let register = ServerAction::<Register>::new();
    let update_profile = ServerAction::<UpdateProfile>::new();
    let change_password = ServerAction::<ChangePassword>::new();
    // Blocking: the server holds the page's head until this resolves, so the page is drawn
    // for the right person. (A silent session renewal happened before, in the server's
    // session layer, which sets its cookies on the response.)
    let user = Resource::new_blocking(
        move || (login.version().get(), logout.version().get(), register.version().get(), update_profile.version().get()),
        |_| crate::api::current_user(),
    );
    provide_context(Session { user, login, logout, register, update_profile, change_password });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// The error an action's last answer carries, if any: the server's refusal, or
/// `ApiError::Transport` when no answer came.
pub fn action_error<T>(value: Option<Result<T, ApiError>>) -> Option<ApiError> {
    value?.err()
}

/// Only local paths are followed after login, so a crafted link cannot send people elsewhere.
pub fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or_else(|| "/".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next(Some("/profile".into())), "/profile");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(Some("/\\evil".into())), "/");
        assert_eq!(safe_next(None), "/");
    }
}
