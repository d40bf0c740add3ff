//! The server's integration tests, as one test binary: each module was once a binary of its
//! own, and each of those linked the whole server and SurrealDB again (13 links of the same
//! few hundred megabytes). Every test here talks to real parts: the embedded database on a
//! temporary directory, real object-store directories or a real S3 API, the real binary.

mod common;

mod analytics;
mod audit;
mod auth;
mod authz;
#[cfg(feature = "surreal-node")]
mod cluster;
mod datasets;
mod db;
mod federate_cli;
mod federated;
mod federations;
mod he;
mod health;
mod independent;
mod jobs;
mod models;
mod pages;
mod privacy;
mod process;
mod s3;
mod tls;
