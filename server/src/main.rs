//! `cipherfold`: the server binary. `serve` is the default command.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use server::config::{self, Cli, Command, Config, ServeArgs};
use server::error::ServerError;
use server::Server;

fn main() -> ExitCode {
    if let Err(e) = config::load_dotenv() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    init_tracing(&args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on; no panic, no backtrace.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), ServerError> {
    let config = Config::from_args(&args)?;
    let server = Server::bind(&config).await?;
    server.run_until(server::shutdown_signal()).await
}

fn init_tracing(format: &str) {
    let filter = EnvFilter::try_from_env("CIPHERFOLD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,surrealdb=warn,surrealkv=warn,surrealdb_core=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
