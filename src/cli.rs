//! Command-line interface. The doc comments below are the `--help` text; every serve flag is also
//! an environment variable named `PAYLINK_SANDBOX_<FLAG>`.

use std::{net::IpAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::clock::Span;
use crate::config::{Config, ConfigError};

/// Parses `0,100ms,1s` (or `none`) into retry delays.
pub fn parse_schedule(text: &str) -> Result<Vec<Span>, String> {
    if text.trim().eq_ignore_ascii_case("none") || text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            crate::clock::parse_duration(part)
                .map(Span)
                .ok_or_else(|| format!("--retry-schedule: {part:?} is not a duration"))
        })
        .collect()
}

/// A local emulator of the WhatsApp Cloud API payments surface, a Razorpay-style payment-links
/// gateway and Qonto payment links, with signed, scripted webhooks.
///
/// With no subcommand it serves the sandbox on 127.0.0.1:5080 with embedded defaults.
#[derive(Debug, Parser)]
#[command(
    name = "paylink-sandbox",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the sandbox (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Validate payload files offline against the same schemas and rules the server applies.
    ///
    /// Each file holds one JSON request body. The kind is detected from the body (a WhatsApp
    /// message). Rules that need server state (reference_id uniqueness, known orders) are skipped.
    /// Exits 1 when any file is invalid and 2 when a file cannot be read or parsed.
    Validate(ValidateArgs),
    /// Pay a link or order in a running sandbox: a gateway `plink_…` id or short URL, a Qonto link
    /// id or URL, or a WhatsApp order's reference_id (or a link's reference).
    Pay(PayCommand),
    /// Show the sandbox clock, or move it: `clock advance 15m`.
    Clock(ClockCommand),
    /// List webhook deliveries (`--failed` for the ones that exhausted their retries).
    Webhooks(WebhooksCommand),
    /// Return a running sandbox (or one provider or tenant) to its start state.
    Reset(ResetCommand),
    /// Print every request and webhook of a running sandbox as it happens; `--forward-to URL`
    /// posts each webhook to a local URL too, with the headers it was sent with.
    Listen(ListenCommand),
    /// Fire a named event end to end with fixture data: `trigger razorpay payment_link.paid`,
    /// `trigger whatsapp inbound-text --from 919876543210 --text hi`; `trigger --list`.
    Trigger(TriggerCommand),
    /// Save the whole state of a running sandbox to a file, or replace it with one:
    /// `snapshot save demo.json`, `snapshot load demo.json`. Start a sandbox from a file with
    /// `--snapshot FILE`.
    Snapshot(SnapshotCommand),
}

/// How the client subcommands reach a running sandbox.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Base URL of the running sandbox.
    #[arg(
        long,
        env = "PAYLINK_SANDBOX_URL",
        default_value = "http://127.0.0.1:5080",
        global = true
    )]
    pub url: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Not a client flag: a client reaches the sandbox through `--url`. Kept (hidden) to say so.
    #[arg(long = "port", id = "client_port", hide = true, global = true)]
    pub port: Option<String>,
}

impl ClientArgs {
    /// The base URL, or a sentence for the user when they gave `--port` to a client command.
    pub fn base_url(&self, command: &str) -> Result<&str, String> {
        match &self.port {
            Some(port) => Err(format!(
                "--port is a flag of the server, not of `{command}`, which reaches a running \
                 sandbox through --url (or PAYLINK_SANDBOX_URL); for a sandbox on port {port}: \
                 --url http://127.0.0.1:{port}"
            )),
            None => Ok(&self.url),
        }
    }
}

#[derive(Debug, Args)]
pub struct PayCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub args: PayArgs,
}

#[derive(Debug, Args)]
pub struct PayArgs {
    /// `plink_…`, a short URL, a Qonto link id or URL, or a reference_id.
    pub target: String,
    /// `success` (default) or `failure`; or a provider's own status (`pending`, `paid`, `open`, ...).
    #[arg(long)]
    pub outcome: Option<String>,
    /// Payment method (`upi`, `card`, `netbanking`, `wallet`; `credit_card`, `paypal`, ...).
    #[arg(long)]
    pub method: Option<String>,
    /// Amount in minor units, for partial payments on gateway links.
    #[arg(long)]
    pub amount: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ClockCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub action: Option<ClockAction>,
}

#[derive(Debug, Subcommand)]
pub enum ClockAction {
    /// Move the clock forward (`90s`, `15m`, `1h30m`, `2d`); what falls due fires at once.
    Advance { duration: String },
}

#[derive(Debug, Args)]
pub struct WebhooksCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub args: WebhooksArgs,
}

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Only deliveries that exhausted their retries.
    #[arg(long)]
    pub failed: bool,
    /// Only this provider's deliveries.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only the newest N.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ResetCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub args: ResetArgs,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Only this provider (`whatsapp`, `razorpay`, `qonto`).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this tenant (phone number id, key id, organization login).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct SnapshotCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub action: SnapshotAction,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Write the state to FILE (`-` for standard output).
    Save { file: String },
    /// Replace the state with FILE's; a file that is not a valid snapshot changes nothing.
    Load { file: String },
}

#[derive(Debug, Args)]
pub struct ListenCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub args: ListenArgs,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Only this provider's requests and webhooks.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this tenant's (phone number id, key id, organization login).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Also post each webhook to this URL, with its original headers.
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<String>,
}

#[derive(Debug, Args)]
pub struct TriggerCommand {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub args: TriggerArgs,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// `whatsapp`, `razorpay` or `qonto`.
    #[arg(required_unless_present = "list")]
    pub provider: Option<String>,
    /// The event, as `trigger --list` names it.
    #[arg(required_unless_present = "list")]
    pub event: Option<String>,
    /// List what can be triggered.
    #[arg(long)]
    pub list: bool,
    /// The tenant to act as (phone number id, key id, organization login); the first
    /// configured one by default.
    #[arg(long)]
    pub tenant: Option<String>,
    /// The customer's WhatsApp number.
    #[arg(long)]
    pub from: Option<String>,
    /// The text of an inbound message.
    #[arg(long)]
    pub text: Option<String>,
    /// The order or link reference.
    #[arg(long)]
    pub reference: Option<String>,
    /// The amount in minor units.
    #[arg(long)]
    pub amount: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files to validate.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file instead of text.
    #[arg(long)]
    pub json: bool,
    /// TOML configuration file whose provider settings apply (as `serve --config` reads it).
    #[arg(long, short, env = "PAYLINK_SANDBOX_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to bind (loopback unless you mean to expose the sandbox).
    #[arg(long, env = "PAYLINK_SANDBOX_BIND")]
    pub bind: Option<IpAddr>,
    /// Port to bind; 0 picks a free one (the chosen address is printed).
    #[arg(long, short, env = "PAYLINK_SANDBOX_PORT")]
    pub port: Option<u16>,
    /// TOML configuration file, overlaid on the embedded defaults.
    #[arg(long, short, env = "PAYLINK_SANDBOX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seed for every id and random choice; the same seed and requests give the same output.
    #[arg(long, env = "PAYLINK_SANDBOX_SEED")]
    pub seed: Option<u64>,
    /// Log filter, e.g. `info`, `debug` or `paylink_sandbox=trace`.
    #[arg(long, env = "PAYLINK_SANDBOX_LOG")]
    pub log_level: Option<String>,
    /// Log format: `text` (colours only on a terminal) or `json` (one object per line).
    #[arg(long, env = "PAYLINK_SANDBOX_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::config::LogFormat>,
    /// Base URL written into links the sandbox hands out (defaults to the bound address).
    #[arg(long, env = "PAYLINK_SANDBOX_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How many requests, messages and deliveries each history keeps.
    #[arg(long, env = "PAYLINK_SANDBOX_HISTORY_LIMIT")]
    pub history_limit: Option<usize>,
    /// Start the sandbox clock at this time (Unix seconds or RFC 3339).
    #[arg(long, env = "PAYLINK_SANDBOX_CLOCK_START")]
    pub clock_start: Option<String>,
    /// Freeze the sandbox clock: time moves only through the clock admin API.
    #[arg(long, env = "PAYLINK_SANDBOX_FROZEN_CLOCK")]
    pub frozen_clock: bool,
    /// The fast test profile: statuses follow each other at once, Qonto settles at once, and
    /// retries come within 1.6 s; delays you set yourself are kept.
    #[arg(long, env = "PAYLINK_SANDBOX_FAST")]
    pub fast: bool,
    /// Delays before each webhook retry, comma-separated (e.g. `0,100ms,1s`); `none` disables
    /// retries.
    #[arg(long, env = "PAYLINK_SANDBOX_RETRY_SCHEDULE")]
    pub retry_schedule: Option<String>,
    /// How long one webhook attempt may take (e.g. `5s`).
    #[arg(long, env = "PAYLINK_SANDBOX_WEBHOOK_TIMEOUT")]
    pub webhook_timeout: Option<String>,
    /// Treat unknown credentials as a fresh, isolated tenant (one per test) instead of refusing them.
    #[arg(long, env = "PAYLINK_SANDBOX_ACCEPT_ANY_CREDENTIALS")]
    pub accept_any_credentials: bool,
    /// Also answer to this host name (repeat or separate with commas; `*` for any), for a
    /// sandbox reached through a container name or a tunnel. Other hosts are refused.
    #[arg(
        long = "allowed-host",
        env = "PAYLINK_SANDBOX_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Let pages from this origin call the emulated APIs from a browser (CORS; repeat or
    /// separate with commas; `*` for any). The admin API stays closed to other origins.
    #[arg(
        long = "cors-origin",
        env = "PAYLINK_SANDBOX_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Start from this snapshot file (saved with `snapshot save` or `GET /__sandbox/snapshot`)
    /// instead of the configured start state.
    #[arg(long, env = "PAYLINK_SANDBOX_SNAPSHOT", value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Keep the whole state in an SQLite database in DIR: a restart or a crash loses nothing
    /// acknowledged, and ids never repeat. Without it nothing touches the disk.
    #[arg(long, env = "PAYLINK_SANDBOX_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Each provider's own flags.
    #[command(flatten)]
    pub providers: crate::providers::Flags,
}

impl ServeArgs {
    /// Builds the configuration: defaults, then the file, then these flags.
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(bind) = self.bind {
            config.server.bind = bind;
        }
        if let Some(port) = self.port {
            config.server.port = port;
        }
        if self.seed.is_some() {
            config.seed = self.seed;
        }
        if let Some(level) = &self.log_level {
            config.server.log_level = level.clone();
        }
        if let Some(format) = self.log_format {
            config.server.log_format = format;
        }
        if let Some(url) = &self.public_url {
            config.server.public_url = Some(url.trim_end_matches('/').to_string());
        }
        if let Some(limit) = self.history_limit {
            config.server.history_limit = limit;
        }
        if self.snapshot.is_some() {
            config.server.snapshot.clone_from(&self.snapshot);
        }
        if self.data_dir.is_some() {
            config.server.data_dir.clone_from(&self.data_dir);
        }
        if let Some(start) = &self.clock_start {
            config.clock.start = Some(start.clone());
        }
        if self.frozen_clock {
            config.clock.frozen = true;
        }
        if self.fast {
            config.clock.fast = true;
        }
        if let Some(schedule) = &self.retry_schedule {
            config.webhooks.retry_schedule =
                parse_schedule(schedule).map_err(|p| ConfigError::Invalid(vec![p]))?;
        }
        if let Some(timeout) = &self.webhook_timeout {
            let d = crate::clock::parse_duration(timeout).ok_or_else(|| {
                ConfigError::Invalid(vec![format!(
                    "--webhook-timeout {timeout:?} is not a duration"
                )])
            })?;
            config.webhooks.timeout = Span(d);
        }
        if self.accept_any_credentials {
            config.server.accept_any_credentials = true;
        }
        config
            .server
            .allowed_hosts
            .extend(self.allowed_hosts.iter().map(|h| h.trim().to_string()));
        config
            .server
            .cors_origins
            .extend(self.cors_origins.iter().map(|o| o.trim().to_string()));
        self.providers.apply(&mut config.providers);
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_override_the_defaults() {
        let cli = Cli::try_parse_from(["paylink-sandbox", "--port", "0", "--seed", "9"]).unwrap();
        let cfg = cli.serve.to_config().unwrap();
        assert_eq!(cfg.server.port, 0);
        assert_eq!(cfg.seed, Some(9));
        assert!(cli.command.is_none());
    }

    #[test]
    fn retry_schedules_parse() {
        let v = parse_schedule("0, 100ms,1s").unwrap();
        assert_eq!(
            v.iter().map(|s| s.as_ms()).collect::<Vec<_>>(),
            vec![0, 100, 1000]
        );
        assert!(parse_schedule("none").unwrap().is_empty());
        assert!(parse_schedule("1s,soon").is_err());
    }

    #[test]
    fn validate_takes_files() {
        let cli = Cli::try_parse_from(["paylink-sandbox", "validate", "a.json", "b.json"]).unwrap();
        match cli.command {
            Some(Command::Validate(args)) => assert_eq!(args.files.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}
