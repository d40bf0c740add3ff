//! `cipherfold`: the server binary. `serve` is the default command.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use server::config::{self, AuditCommand, Cli, Command, Config, EpsilonArgs, HeCommand, PrivacyCommand, ServeArgs, StorageArgs};
use server::error::ServerError;
use server::Server;

fn main() -> ExitCode {
    if let Err(e) = config::load_dotenv() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let task = match cli.command {
        Some(Command::Serve(args)) => Task::Serve(args),
        Some(Command::Audit { command: AuditCommand::Verify(storage) }) => Task::AuditVerify(storage),
        Some(Command::Federate(args)) => Task::Federate(args),
        Some(Command::He { command: HeCommand::Predict(args) }) => Task::HePredict(args),
        Some(Command::Privacy { command: PrivacyCommand::Epsilon(args) }) => {
            return match privacy_epsilon(&args) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: --{}: {}", e.field_name().replace('_', "-"), e.message());
                    ExitCode::FAILURE
                }
            };
        }
        None => Task::Serve(Box::new(cli.serve)),
    };
    init_tracing(match &task {
        Task::Serve(args) => &args.log_format,
        Task::AuditVerify(_) | Task::Federate(_) | Task::HePredict(_) => "pretty",
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match task {
        Task::Serve(args) => runtime.block_on(serve(*args)),
        Task::AuditVerify(storage) => runtime.block_on(audit_verify(storage)),
        Task::Federate(args) => match runtime.block_on(server::participant::federate(args)) {
            Ok(_) => Ok(()),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        Task::HePredict(args) => match runtime.block_on(server::he_predict::predict(args)) {
            Ok(()) => Ok(()),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on; no panic, no backtrace.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Task {
    Serve(Box<ServeArgs>),
    AuditVerify(StorageArgs),
    Federate(server::participant::FederateArgs),
    HePredict(server::he_predict::HePredictArgs),
}

/// `cipherfold privacy epsilon`: one line, ε for a noise multiplier or the noise multiplier for an ε.
fn privacy_epsilon(a: &EpsilonArgs) -> Result<String, app::dp::DpError> {
    let what = format!("{} steps, sampling rate {}, δ = {:e}", a.steps, a.sampling_rate, a.delta);
    if a.noise_multiplier.is_none() && a.epsilon.is_none() {
        return Err(app::dp::DpError::field("noise_multiplier", "give --noise-multiplier or --epsilon"));
    }
    let p = app::dp::EpsilonPreview::compute(a.sampling_rate, a.noise_multiplier, a.epsilon, a.steps, a.delta)?;
    Ok(match (a.noise_multiplier, a.epsilon) {
        (None, Some(target)) => format!("noise multiplier {:.4} gives ε = {:.4} ≤ {target} ({what})", p.noise_multiplier, p.epsilon),
        _ => format!("ε = {:.4} ({what}, noise multiplier {})", p.epsilon, p.noise_multiplier),
    })
}

/// `cipherfold audit verify`: prints the entry count when the chain holds, the first break otherwise.
async fn audit_verify(storage: StorageArgs) -> Result<(), ServerError> {
    let url = storage.database_url()?;
    let db = server::backend::db::connect(&url).await?;
    let verdict =
        server::backend::audit::verify(&db).await.map_err(|e| ServerError::Database { endpoint: url.endpoint(), reason: e.to_string() })?;
    match verdict {
        Ok(n) => {
            println!("audit log intact: {n} entries, every hash links to the one before");
            Ok(())
        }
        Err(brk) => Err(ServerError::AuditBroken(brk.to_string())),
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
