//! Real client libraries against the running sandbox, unmodified, with only their base URL
//! pointed at the sandbox: razorpay-python and pywa (`tests/sdk/*.py`), razorpay-node and
//! whatsapp-api-js (`tests/sdk/node/sdk.mjs`).
//!
//! They need a Python with the packages in `tests/sdk/requirements.txt` (`.venv/bin/python`, or
//! `PAYLINK_SDK_PYTHON`) and `node` with `tests/sdk/node/node_modules` installed (`npm ci`);
//! `.ci/run` sets both up. Without them these tests say they were skipped and why, unless
//! `PAYLINK_REQUIRE_SDKS=1` (set by `.ci/run`) makes that a failure.

use std::path::PathBuf;

use crate::helpers::*;

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("PAYLINK_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let ok = std::process::Command::new(&candidate)
        .args(["-c", "import razorpay, pywa, requests, httpx"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(candidate);
    }
    skip(&format!(
        "no Python with the SDKs at {} (create it with: python3 -m venv .venv && .venv/bin/pip install -r tests/sdk/requirements.txt)",
        candidate.display()
    ));
    None
}

fn skip(why: &str) {
    if std::env::var_os("PAYLINK_REQUIRE_SDKS").is_some() {
        panic!("PAYLINK_REQUIRE_SDKS is set but there is {why}");
    }
    // Straight to the stream, not through eprintln!, so `cargo test` shows it even when the
    // (passing) test's output is captured.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED real-SDK test: {why}");
}

fn node() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/node");
    let has_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_node
        && dir.join("node_modules/razorpay").is_dir()
        && dir.join("node_modules/whatsapp-api-js").is_dir()
    {
        return Some(PathBuf::from("node"));
    }
    skip(&format!(
        "no node with the SDKs in {} (install them with: npm ci --prefix tests/sdk/node)",
        dir.join("node_modules").display()
    ));
    None
}

async fn run_script(script: &str) {
    let Some(python) = python() else { return };
    run(python, script, "tests/sdk").await;
}

async fn run(program: PathBuf, script: &str, dir: &str) {
    let app = TestApp::spawn().await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let out = tokio::process::Command::new(program)
        .arg(script)
        .current_dir(&dir)
        .env("SANDBOX_URL", &app.base)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn razorpay_python_creates_edits_pays_and_verifies_against_the_sandbox() {
    run_script("razorpay_sdk.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywa_subscribes_sends_and_parses_webhooks_from_the_sandbox() {
    run_script("pywa_sdk.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn razorpay_node_and_whatsapp_api_js_work_unmodified_against_the_sandbox() {
    let Some(node) = node() else { return };
    run(node, "sdk.mjs", "tests/sdk/node").await;
}
