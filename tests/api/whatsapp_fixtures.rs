//! Every fixture under `fixtures/whatsapp/` through the live server and through `validate`.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use crate::helpers::*;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Expected {
    code: i64,
    pointers: Vec<String>,
    #[serde(default)]
    stateful: bool,
}

fn dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/whatsapp")
        .join(kind)
}

fn files(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    // Orders first, so that order_status fixtures find the orders they update.
    files.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        (name.starts_with("order_status"), name)
    });
    files
}

fn expectations() -> BTreeMap<String, Expected> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/whatsapp/invalid-expected.json");
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn read(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_gets_the_answer_its_name_promises() {
    let app = TestApp::spawn().await;
    let valid = files("valid");
    assert!(valid.len() >= 20, "only {} valid fixtures", valid.len());
    for path in &valid {
        let (status, body) = app.send_message_json(&read(path)).await;
        assert_eq!(status, 200, "{}: {body}", path.display());
        assert!(
            body["messages"][0]["id"]
                .as_str()
                .unwrap()
                .starts_with("wamid.")
        );
    }

    let expected = expectations();
    let invalid = files("invalid");
    assert_eq!(
        invalid.len(),
        expected.len(),
        "every invalid fixture has an expectation and vice versa"
    );
    for path in &invalid {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let want = expected
            .get(&name)
            .unwrap_or_else(|| panic!("no expectation for {name}"));
        let (status, body) = app.send_message_json(&read(path)).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["error"]["code"], want.code, "{name}: {body}");
        let mut got = detail_pointers(&body);
        // Graph names a missing messaging_product in its sentence and sends no error_data.
        if got.is_empty()
            && body["error"]["message"] == "(#100) The parameter messaging_product is required."
        {
            got.push("/messaging_product".into());
        }
        got.sort();
        let mut wanted = want.pointers.clone();
        wanted.sort();
        assert_eq!(got, wanted, "{name}: {body}");
    }
    let sent = app.admin_messages().await;
    assert_eq!(sent.len(), valid.len(), "refused fixtures left no trace");
}

#[test]
fn validate_accepts_the_valid_fixtures_and_rejects_the_invalid_ones() {
    let bin = env!("CARGO_BIN_EXE_paylink-sandbox");
    let out = Command::new(bin)
        .arg("validate")
        .args(files("valid"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": ok (")).count(),
        files("valid").len()
    );

    let expected = expectations();
    for path in files("invalid") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let want = &expected[&name];
        let out = Command::new(bin)
            .args(["validate", "--json"])
            .arg(&path)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        if want.stateful {
            // Uniqueness and known orders need a running server.
            assert_eq!(out.status.code(), Some(0), "{name}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{name}: {report}");
        assert_eq!(report["valid"], false);
        assert_eq!(report["code"], want.code.to_string(), "{name}");
        let mut got: Vec<String> = report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["pointer"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        let mut wanted = want.pointers.clone();
        wanted.sort();
        assert_eq!(got, wanted, "{name}");
    }
}

#[test]
fn validate_exits_2_on_an_unreadable_file() {
    let bin = env!("CARGO_BIN_EXE_paylink-sandbox");
    let out = Command::new(bin)
        .args(["validate", "/no/such/file.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot check"));
}
