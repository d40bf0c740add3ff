//! The server layer's one error type. Each variant's message is written for the operator
//! who reads it on a terminal: it says what failed and, where we can tell, what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("data directory {path}: {reason}; choose a writable one with --data-dir or CIPHERFOLD_DATA_DIR")]
    DataDir { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: std::net::SocketAddr, reason: String },
    #[error("database {endpoint}: {reason}")]
    Database { endpoint: String, reason: String },
    #[error("object store: {0}")]
    Store(String),
    #[error("{0}")]
    AuditBroken(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl ServerError {
    /// Wraps a bind error with advice for the usual cause.
    pub fn listen(addr: std::net::SocketAddr, e: &std::io::Error) -> Self {
        let reason = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use (is another cipherfold running?); pick another with --addr or CIPHERFOLD_ADDR".to_owned()
            }
            std::io::ErrorKind::PermissionDenied => "permission denied; ports below 1024 need privileges".to_owned(),
            _ => e.to_string(),
        };
        ServerError::Listen { addr, reason }
    }
}
