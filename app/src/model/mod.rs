//! Types shared by the server and the browser, and sent over the wire.

pub mod catalog;
pub mod health;

pub use catalog::{Domain, Subdomain, CATALOG};
pub use health::{ComponentStatus, HealthReport};
