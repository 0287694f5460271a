//! `paylink-sandbox validate FILE...`: checks request bodies offline with the same schemas and
//! rules as the live server. Rules that need server state (reference_id uniqueness, known orders,
//! status transitions) are skipped; time rules use the configured clock start or the current time.

use std::{
    io::{self, Write},
    path::Path,
    process::ExitCode,
};

use serde_json::{Value, json};

use crate::cli::{ServeArgs, ValidateArgs};
use crate::clock::Clock;
use crate::providers::whatsapp::{error::GraphError, rules};
use crate::schema::{Schemas, Violation};

/// The result of checking one file.
#[derive(Debug)]
pub struct Report {
    pub kind: String,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
    /// The vendor error code the server would answer with, when invalid.
    pub code: Option<String>,
}

/// Checks one request body. Today every body is read as a WhatsApp message.
pub fn check_value(schemas: &Schemas, value: &mut Value, ctx: &rules::Context<'_>) -> Report {
    let checked = rules::check(schemas, value, ctx);
    let code = (!checked.violations.is_empty()).then(|| {
        GraphError::Validation(checked.violations.clone())
            .code()
            .to_string()
    });
    Report {
        kind: format!("whatsapp {}", checked.kind),
        violations: checked.violations,
        warnings: checked.warnings,
        code,
    }
}

pub fn run(args: &ValidateArgs, serve: &ServeArgs) -> ExitCode {
    let config = match serve.to_config() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("paylink-sandbox: {err}");
            return ExitCode::from(2);
        }
    };
    let schemas = match Schemas::load() {
        Ok(s) => s,
        Err(err) => {
            eprintln!("paylink-sandbox: {err}");
            return ExitCode::from(2);
        }
    };
    let clock = Clock::new(config.clock_start_ms(), true);
    let names: Vec<String> = config
        .whatsapp
        .businesses
        .iter()
        .flat_map(|b| {
            b.payment_configurations
                .iter()
                .map(|p| p.configuration_name.clone())
        })
        .collect();
    let ctx = rules::Context {
        now_secs: clock.now_secs(),
        require_messaging_product: config.whatsapp.require_messaging_product,
        configuration_names: Some(&names),
    };
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
                let report = check_value(&schemas, &mut value, &ctx);
                invalid |= !report.violations.is_empty();
                print_report(&mut out, file, &report, args.json)
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
