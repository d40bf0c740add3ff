//! A SurrealDB server for the several-node tests and `scripts/cluster.sh`: the real server
//! (`surrealdb-server`, the library the `surreal` binary is), started with the same command
//! line, e.g. `surreal-node start --bind 127.0.0.1:8000 --user root --pass root memory`.
//! Built only with the `surreal-node` feature, so `cipherfold` itself never links it.
// The release build (the load benchmark) lays out surrealdb-core's deepest async fn beyond the
// default query depth of 128; the compiler's own suggestion.
#![recursion_limit = "256"]

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
