//! Federated learning's client math, the same in the browser (wasm), the CLI and the server:
//! fixed-point encoding of updates (`fixed`), Shamir shares (`shamir`), the masks of secure
//! aggregation and their keys (`masks`), and the envelope that carries shares between
//! participants (`shares`). The protocol around them is `docs/federated.md`'s business; this
//! module has no I/O.

pub mod client;
pub mod fixed;
pub mod masks;
pub mod mlp;
pub mod plan;
pub mod privacy;
pub mod round;
pub mod shamir;
pub mod shares;
pub mod train;
pub mod wire;

/// Why a federated step failed, in words for the participant or the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlError {
    /// An update that cannot be encoded or a sum that cannot be decoded.
    #[error("{0}")]
    Encoding(String),
    /// Shamir parameters or shares that cannot work.
    #[error("{0}")]
    Sharing(String),
    /// A message that breaks the protocol (a bad key, an envelope that does not open).
    #[error("{0}")]
    Protocol(String),
    /// A participant's rows that do not fit the federation's task, or training that failed.
    #[error("{0}")]
    Data(String),
    /// The platform's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}
