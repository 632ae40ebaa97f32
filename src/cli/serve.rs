//! `safemig serve`: parses its flags, prepares the environments of safemig.toml and runs
//! [`safemig::serve`] until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use safemig::check::CheckOptions;
use safemig::interrupt::Interrupt;
use safemig::serve::http::{self, ConnectionLimits};
use safemig::serve::{Exporter, ServeOptions};
use safemig::{Error, ExitCode};

use super::output;
use super::signals::{Policy, StopSignals};
use super::{ConfigArgs, parse_seconds};

/// The default `--listen` port. Prometheus's exporter range (9100-9999) is fully
/// allocated; 9477 is none of the common exporters' (node 9100, mysqld 9104, blackbox
/// 9115, postgres 9187, ...). Pass --listen where it collides.
const DEFAULT_LISTEN: &str = "127.0.0.1:9477";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to serve /metrics, /probe, /healthz, /readyz and /status on
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// The environments to serve; repeat for several [default: every environment]
    #[arg(long = "env", value_name = "NAME")]
    pub(super) env: Vec<String>,

    /// Seconds a check's result is served from the cache before a scrape checks again
    #[arg(long, value_name = "SECONDS", default_value = "15", value_parser = parse_seconds)]
    min_interval: Duration,

    /// Migrations waiting for deploy (pending, or only rolled back) that /readyz tolerates
    /// before it answers 503
    #[arg(long, value_name = "N", default_value = "0")]
    pending_tolerance: usize,

    /// How many databases are checked at once (tenants on one server share a connection)
    #[arg(long, value_name = "N", default_value = "16", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,

    /// Seconds each database may take to answer before it is reported unreachable (up 0)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,

    /// Never run the drift comparisons safemig.toml configures
    #[arg(long)]
    no_drift: bool,

    #[command(flatten)]
    project: super::check::ProjectFlags,

    /// How often drift compares where safemig.toml's drift sets no `every`
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = parse_seconds)]
    drift_every: Duration,

    /// Seconds a client connection may take to send a request, from when it opens or its
    /// previous response was sent: idle and slow connections are closed after it (keep
    /// it above the idle timeout of a load balancer in front)
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    idle_timeout: Duration,

    /// Client connections served at once; more wait until one closes
    #[arg(long, value_name = "N", default_value = "512", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    #[command(flatten)]
    pub(super) config: ConfigArgs,
}

/// Serves until a stop signal; exits 0 after a clean stop.
pub async fn serve(args: ServeArgs, signals: &StopSignals) -> Result<ExitCode, Error> {
    // A stop signal ends the server gracefully: no new connections, the requests in
    // flight finish. The watchdog ends the process if that takes longer than 5 s (+ margin).
    let interrupt = Interrupt::new(Duration::from_secs(5));
    signals.set(Policy::Drain(interrupt.clone()));
    let (prepared, named) = super::check::prepare(&args.config, &args.env, &args.project)?;
    let options = ServeOptions {
        min_interval: args.min_interval,
        pending_tolerance: args.pending_tolerance,
        check: CheckOptions {
            jobs: args.jobs.into(),
            timeout: args.timeout,
            drift: !args.no_drift,
            cache: super::cache(false),
        },
        default_drift_every: args.drift_every,
        connections: ConnectionLimits {
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections as usize,
        },
        base_target: super::check::base_target(&args.config, &args.project, named),
        named,
    };
    let listener = http::bind(args.listen).await?;
    let address = listener.local_addr().unwrap_or(args.listen);
    output::stderr_line(&format!(
        "Serving {} on http://{address}/metrics",
        safemig::text::count(prepared.len(), "environment")
    ));
    let exporter = Arc::new(Exporter::new(prepared, options));
    let stopped = interrupt.clone();
    exporter
        .run(listener, async move { stopped.stopped().await })
        .await;
    output::stderr_line("Stopped.");
    Ok(ExitCode::Success)
}
