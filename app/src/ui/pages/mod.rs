//! One module a page.

pub mod account;
pub mod analytics;
pub mod audit;
pub mod datasets;
pub mod federation_new;
pub mod federations;
pub mod home;
pub mod jobs;
pub mod models;
pub mod not_found;
