//! Types shared by the server and the browser, and sent over the wire.

pub mod analytics;
pub mod artifact;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod dataset;
pub mod error;
pub mod federation;
pub mod health;
pub mod job;

pub use catalog::{Domain, Subdomain, CATALOG};
pub use error::{ApiError, FieldErrors};
pub use health::{ComponentStatus, HealthReport};
