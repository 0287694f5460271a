//! `paylink-sandbox validate FILE...`: checks request bodies offline with the same schemas and
//! rules as the live server (each provider's `Section::check_offline`; today every body is read
//! as a WhatsApp message). Rules that need server state (reference_id uniqueness, known orders,
//! status transitions) are skipped; time rules use the configured clock start or the current time.

use std::{
    io::{self, Write},
    path::Path,
    process::ExitCode,
};

use serde_json::{Value, json};

use crate::cli::{ServeArgs, ValidateArgs};
use crate::clock::Clock;
use crate::provider::OfflineReport as Report;
use crate::schema::Schemas;

pub fn run(args: &ValidateArgs) -> ExitCode {
    let serve = ServeArgs {
        config: args.config.clone(),
        ..ServeArgs::default()
    };
    let config = match serve.to_config() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("paylink-sandbox: {err}");
            return ExitCode::from(2);
        }
    };
    let schemas = Schemas::load();
    let now_secs = Clock::new(config.clock_start_ms(), true).now_secs();
    let mut invalid = false;
    let mut unreadable = false;
    let mut out = io::stdout().lock();
    for file in &args.files {
        // A closed pipe (`validate ... | head`) ends the listing, not the checks' exit status.
        let printed = match read(file) {
            Err(problem) => {
                unreadable = true;
                if args.json {
                    writeln!(
                        out,
                        "{}",
                        json!({"file": file.display().to_string(), "error": problem})
                    )
                } else {
                    writeln!(out, "{}: cannot check: {problem}", file.display())
                }
            }
            Ok(mut value) => {
                match crate::providers::check_offline(
                    &config.providers,
                    &schemas,
                    &mut value,
                    now_secs,
                ) {
                    Some(report) => {
                        invalid |= !report.violations.is_empty();
                        print_report(&mut out, file, &report, args.json)
                    }
                    None => {
                        unreadable = true;
                        writeln!(
                            out,
                            "{}: no provider checks this kind of body",
                            file.display()
                        )
                    }
                }
            }
        };
        if printed.is_err() {
            break;
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn read(file: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    crate::http::parse_json(&bytes).map_err(|e| e.to_string())
}

fn print_report(
    out: &mut impl Write,
    file: &Path,
    report: &Report,
    as_json: bool,
) -> io::Result<()> {
    if as_json {
        return writeln!(
            out,
            "{}",
            json!({
                "file": file.display().to_string(),
                "kind": report.kind,
                "valid": report.violations.is_empty(),
                "code": report.code,
                "violations": report.violations,
                "warnings": report.warnings,
            })
        );
    }
    match &report.code {
        None => writeln!(out, "{}: ok ({})", file.display(), report.kind)?,
        Some(code) => {
            writeln!(
                out,
                "{}: invalid ({}; error code {code}, {} violation(s))",
                file.display(),
                report.kind,
                report.violations.len()
            )?;
            for v in &report.violations {
                writeln!(out, "  {v}")?;
            }
        }
    }
    for w in &report.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}
