//! The `scimgate` binary: parses the command line, loads the configuration, and runs the command.

use std::process::ExitCode;

use clap::Parser;

use gateway::cli::{Cli, Command};
use gateway::config::{Config, ConfigError, Overrides};
use gateway::{admin, demo, probe, server, telemetry};

// Most of a request's objects are small and short-lived; mimalloc serves them in far fewer
// instructions than glibc's malloc (docs/benchmarks.md, "CPU per request"). See
// `keep_small_pages` for the one setting it needs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    keep_small_pages();
    // Exactly one TLS crypto provider for rustls (PostgreSQL, Redis and outbound HTTPS share it).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the cause chain joined, for operators and scripts alike.
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            if err.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            db,
            listen,
            region,
            no_migrate,
        } => {
            let overrides = Overrides {
                listen,
                region,
                ..db.overrides()
            };
            let config = Config::load(db.config.as_deref(), &overrides)?;
            telemetry::init(&config.log);
            let services = server::open_services(&config).await?;
            if !no_migrate {
                store::db::migrate(&services.db).await?;
            }
            server::serve(config, services).await
        }
        Command::Migrate { db } => {
            let config = Config::load(db.config.as_deref(), &db.overrides())?;
            telemetry::init(&config.log);
            let database = server::open_database(&config).await?;
            store::db::migrate(&database).await?;
            println!(
                "migrations applied to {}",
                server::redact(&config.database.url)
            );
            Ok(())
        }
        Command::Admin { db, command } => {
            let config = Config::load(db.config.as_deref(), &db.overrides())?;
            let services = server::open_services(&config).await?;
            // Admin commands bring the schema up to date, so a fresh database is usable at once.
            store::db::migrate(&services.db).await?;
            let (output, json) = admin::run(&services.core, &config, command).await?;
            if json {
                println!("{}", output.json);
            } else {
                println!("{}", output.text);
            }
            Ok(())
        }
        Command::Demo { listen } => demo::run(listen).await,
        Command::Probe { url } => probe::run(&url).await,
    }
}

/// Turns transparent huge pages off for this process, before the runtime allocates much. mimalloc
/// asks for them on its arenas (and a kernel in `always` mode gives them unasked), and a 2 MiB
/// page that holds a few live objects stays resident whole: that was 36 MiB of the server's
/// resident memory under load (docs/benchmarks.md, "Memory under load").
fn keep_small_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("warning: cannot turn transparent huge pages off: {e}");
    }
}
