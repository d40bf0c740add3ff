//! Accounts and sessions on the wire, and the input rules both the browser (inline
//! messages) and the server (the authority) apply.

use serde::{Deserialize, Serialize};

use super::catalog;
use super::error::{ApiError, FieldErrors};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller, as every backend operation receives it. Established once per
/// request by the server's session layer, never sent over the wire.
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

/// Who is asking and from where: what every operation on someone's behalf needs (the actor
/// for authorization, the client address for rate limits and the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    pub actor: Actor,
    pub client: String,
}

/// What the server's session layer learned about a request, kept in the request's extensions
/// so the REST routes and the server functions read the caller the same way.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client: String,
    /// Whether cookies set on the answer must be `Secure` (configured, or reached over HTTPS).
    pub secure_cookies: bool,
    /// The authenticated actor, or why there is none (no credentials, an expired session).
    pub identity: Result<Actor, ApiError>,
}

impl Caller {
    /// The context of an authenticated request; the reason otherwise (a 401).
    pub fn ctx(&self) -> Result<Ctx, ApiError> {
        self.identity.clone().map(|actor| Ctx { actor, client: self.client.clone() })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub email: String,
    pub password: String,
    pub domain: String,
    pub subdomain: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/auth/login` and `/refresh`: the access token for API clients. Browsers get the
/// same token, and the refresh token, as HttpOnly cookies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    /// For API clients, which have no cookie jar: present in the answer to a login, and to a
    /// refresh whose token came in the body. Browsers only ever get it as an HttpOnly cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `POST /api/auth/register` answers with this; `GET /api/me` with `Me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredUser {
    pub id: String,
    pub username: String,
    pub domain: String,
    pub subdomain: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub email: String,
    pub domain: String,
    pub subdomain: String,
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdate {
    pub domain: String,
    pub subdomain: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
/// NIST SP 800-63B asks for at least 8; we ask for 10 and allow long passphrases.
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 256;

pub fn check_username(u: &str) -> Option<String> {
    let n = u.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&n) {
        return Some(format!("use {USERNAME_MIN} to {USERNAME_MAX} characters"));
    }
    if !u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')) {
        return Some("use lowercase letters, digits, '_', '-' or '.'".into());
    }
    if !u.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("start with a letter or a digit".into());
    }
    None
}

pub fn check_email(e: &str) -> Option<String> {
    if e.len() > 254 || !email_address::EmailAddress::is_valid(e) {
        return Some("enter an email address like name@example.org".into());
    }
    None
}

pub fn check_password(p: &str) -> Option<String> {
    let n = p.chars().count();
    if n < PASSWORD_MIN {
        return Some(format!("use at least {PASSWORD_MIN} characters"));
    }
    if n > PASSWORD_MAX {
        return Some(format!("use at most {PASSWORD_MAX} characters"));
    }
    None
}

/// Checks a (domain, subdomain) pair against the catalog, naming the field at fault.
pub fn check_domain(domain: &str, subdomain: &str, fields: &mut FieldErrors) {
    match catalog::domain(domain) {
        None => {
            fields.insert("domain".into(), "choose a domain from the list".into());
        }
        Some(_) if !catalog::is_valid_pair(domain, subdomain) => {
            fields.insert("subdomain".into(), "choose a subdomain of the selected domain".into());
        }
        Some(_) => {}
    }
}

fn finish(fields: FieldErrors) -> Result<(), ApiError> {
    if fields.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation { fields })
    }
}

impl RegisterRequest {
    /// Usernames and emails are compared case-insensitively; store them that way.
    pub fn normalised(mut self) -> Self {
        self.username = self.username.trim().to_lowercase();
        self.email = self.email.trim().to_lowercase();
        self
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        let mut f = FieldErrors::new();
        if let Some(m) = check_username(&self.username) {
            f.insert("username".into(), m);
        }
        if let Some(m) = check_email(&self.email) {
            f.insert("email".into(), m);
        }
        if let Some(m) = check_password(&self.password) {
            f.insert("password".into(), m);
        }
        check_domain(&self.domain, &self.subdomain, &mut f);
        finish(f)
    }
}

impl ProfileUpdate {
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut f = FieldErrors::new();
        check_domain(&self.domain, &self.subdomain, &mut f);
        finish(f)
    }
}

impl PasswordChange {
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut f = FieldErrors::new();
        if self.current_password.is_empty() {
            f.insert("current_password".into(), "enter your current password".into());
        }
        if let Some(m) = check_password(&self.new_password) {
            f.insert("new_password".into(), m);
        }
        finish(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> RegisterRequest {
        RegisterRequest {
            username: " Alice.B ".into(),
            email: "Alice@Example.org".into(),
            password: "correct horse battery".into(),
            domain: "healthcare".into(),
            subdomain: "oncology".into(),
        }
    }

    #[test]
    fn a_good_registration_passes_after_normalisation() {
        let r = req().normalised();
        assert_eq!(r.username, "alice.b");
        assert_eq!(r.email, "alice@example.org");
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn every_bad_field_is_named() {
        let r = RegisterRequest {
            username: "_x".into(),
            email: "not-an-email".into(),
            password: "short".into(),
            domain: "healthcare".into(),
            subdomain: "trading".into(),
        };
        let e = r.validate().unwrap_err();
        assert_eq!(e.status(), 422);
        for f in ["username", "email", "password", "subdomain"] {
            assert!(e.field_message(f).is_some(), "{f} not reported: {e:?}");
        }
        assert!(e.field_message("domain").is_none());
    }

    #[test]
    fn username_rules() {
        assert!(check_username("ab").is_some());
        assert!(check_username(&"a".repeat(33)).is_some());
        assert!(check_username("has space").is_some());
        assert!(check_username("Upper").is_some());
        assert!(check_username("-lead").is_some());
        assert!(check_username("ok_name-1.2").is_none());
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(check_password("ééééééééé").is_some()); // 9 characters, 18 bytes
        assert!(check_password("éééééééééé").is_none());
        assert!(check_password(&"x".repeat(257)).is_some());
    }

    #[test]
    fn unknown_domain_is_reported_on_the_domain_field() {
        let mut f = FieldErrors::new();
        check_domain("space", "oncology", &mut f);
        assert!(f.contains_key("domain") && !f.contains_key("subdomain"));
    }
}
