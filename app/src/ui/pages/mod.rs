//! One module a page.

pub mod account;
pub mod audit;
pub mod datasets;
pub mod home;
pub mod jobs;
pub mod not_found;
