//! The binary itself: start-up banner, flags, environment variables and configuration errors.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

const BIN: &str = env!("CARGO_BIN_EXE_paylink-sandbox");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with the first lines it printed.
fn start(args: &[&str], env: &[(&str, &str)]) -> (Running, Vec<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    for _ in 0..4 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        lines.push(line.trim_end().to_string());
    }
    (Running(child), lines)
}

fn address(banner: &[String]) -> String {
    let first = &banner[0];
    let at = first.find("http://").expect("address in the first line");
    first[at..].split_whitespace().next().unwrap().to_string()
}

#[test]
fn port_zero_prints_the_chosen_address_and_the_credentials() {
    let (_child, banner) = start(&["--port", "0", "--seed", "7"], &[]);
    let base = address(&banner);
    assert!(!base.ends_with(":0"), "{base}");
    assert!(banner[0].contains("(seed 7)"), "{banner:?}");
    let all = banner.join("\n");
    for needle in [
        &format!("{base}/whatsapp"),
        "EAAPaylinkSandboxTestAccessToken0000",
        "106540352242922",
        "102290129340398",
        "paylink-sandbox-app-secret",
    ] {
        assert!(all.contains(needle), "{needle} missing from:\n{all}");
    }
    let health = reqwest::blocking_get(&format!("{base}/__sandbox/health"));
    assert!(health.contains("\"status\":\"ok\""), "{health}");
}

#[test]
fn every_flag_is_also_an_environment_variable() {
    let (_child, banner) = start(
        &[],
        &[
            ("PAYLINK_SANDBOX_PORT", "0"),
            ("PAYLINK_SANDBOX_SEED", "99"),
            ("PAYLINK_SANDBOX_BIND", "127.0.0.1"),
        ],
    );
    assert!(banner[0].contains("(seed 99)"), "{banner:?}");
    assert!(!address(&banner).ends_with(":5080"));
}

#[test]
fn a_config_file_is_read_and_its_mistakes_reported() {
    let dir = std::env::temp_dir().join(format!("paylink-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "seed = 5\n[server]\nport = 0\n[[whatsapp.businesses]]\nphone_number_id = \"123456\"\naccess_token = \"EAAFileToken\"\n",
    )
    .unwrap();
    let (_child, banner) = start(&["--config", good.to_str().unwrap()], &[]);
    let all = banner.join("\n");
    assert!(
        all.contains("(seed 5)") && all.contains("EAAFileToken") && all.contains("123456"),
        "{all}"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[server]\nprot = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("prot"));
}

#[test]
fn help_lists_the_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bind",
        "--port",
        "--config",
        "--seed",
        "--log-level",
        "PAYLINK_SANDBOX_PORT",
        "validate",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

mod reqwest {
    use std::time::Duration;
    /// A tiny blocking GET, so this file needs no async runtime.
    pub(super) fn blocking_get(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                if let Ok(r) = ::reqwest::get(url).await {
                    return r.text().await.unwrap_or_default();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            String::new()
        })
    }
}
