//! Entry point: parse the command line, then serve or run a subcommand.

use std::process::ExitCode;

/// glibc's allocator serialises threads on its arena locks under the many small allocations JSON
/// handling makes; mimalloc's per-thread heaps do not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use paylink_sandbox::{
    cli::{Cli, Command, ServeArgs},
    client,
    config::LogFormat,
    validate,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Validate(args)) => validate::run(&args),
        Some(Command::Pay(c)) => client::run_pay(&c.client, &c.args),
        Some(Command::Clock(c)) => client::run_clock(&c.client, &c.action),
        Some(Command::Webhooks(c)) => client::run_webhooks(&c.client, &c.args),
        Some(Command::Reset(c)) => client::run_reset(&c.client, &c.args),
        Some(Command::Listen(c)) => client::listen::run(&c.client, &c.args),
        Some(Command::Trigger(c)) => client::run_trigger(&c.client, &c.args),
        Some(Command::Snapshot(c)) => client::run_snapshot(&c.client, &c.action),
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    let mut config = match args.to_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("paylink-sandbox: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.server.log_level, config.server.log_format);
    let seed = *config.seed.get_or_insert_with(paylink_sandbox::random_seed);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("paylink-sandbox: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind((config.server.bind, config.server.port)).await?;
        let addr = listener.local_addr()?;
        print!("{}", paylink_sandbox::banner(&config, addr, seed));
        paylink_sandbox::run(listener, config, shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("paylink-sandbox: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The terminal log: requests, webhook attempts and warnings on stderr. Colours only when
/// stderr is a terminal, so a redirected log file stays plain text.
fn init_tracing(filter: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
