//! `--data-dir`: a restarted sandbox holds what it held; a killed one loses nothing it
//! acknowledged, delivers what was waiting with the same event ids, and never hands an id out
//! twice; a data dir of a newer version is refused.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;
use crate::receiver::*;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_paylink-sandbox");

/// A scratch folder, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "paylink-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Everything but the id stream's position, which a restart moves past its reservation.
fn without_ids(mut snapshot: Value) -> Value {
    snapshot.as_object_mut().unwrap().remove("ids");
    snapshot
}

async fn snapshot(app: &TestApp) -> Value {
    app.admin_get("/snapshot").await.1
}

/// The gateway link, paid, with the merchant's objects as sent (keys in the order sent).
async fn link_as_created_and_paid(app: &TestApp, link: &Value) {
    let again = app.gateway_link(link["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "paid");
    for field in ["customer", "notes", "notify"] {
        assert_eq!(again[field], link[field], "{field}");
    }
    let keys: Vec<_> = again["notes"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z_last", "a_first"]);
    assert_eq!(again["customer"]["contact"], "+919876543210");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_holds_everything_it_held() {
    let receiver = Receiver::start(Behaviour::Status(503)).await;
    let dir = Scratch::new("restart");
    let config = || {
        let mut config = webhook_config(&format!("{}/wa", receiver.url));
        config.clock.frozen = true;
        config.clock.start = Some("2026-06-01T00:00:00Z".into());
        config.server.public_url = Some("http://sandbox.test".into());
        config.providers.razorpay.accounts[0].webhook_url = Some(format!("{}/rzp", receiver.url));
        config.server.data_dir = Some(dir.0.clone());
        config
    };
    let a = TestApp::spawn_with(config()).await;
    assert_eq!(a.send_order("KEEP-1").await.0, 200);
    let (_, link) = a
        .create_payment_link(&json!({"amount": 2500, "reference_id": "KEEP-L",
            "customer": {"name": "Asha Rao", "email": "asha@example.com", "contact": "+919876543210"},
            "notes": {"z_last": "written first", "a_first": "written second"}}))
        .await;
    assert_eq!(
        link["notes"],
        json!({"z_last": "written first", "a_first": "written second"})
    );
    let link_id = link["id"].as_str().unwrap().to_string();
    let (status, _) = a
        .admin_post(
            &format!("/razorpay/payment_links/{link_id}/pay"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, q) = a
        .create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
            "items": [{"title": "Tea", "quantity": 1, "unit_price": {"value": "9.90", "currency": "EUR"}, "vat_rate": "20.0"}]}}))
        .await;
    assert!(status < 300, "{q}");
    let (status, sub) = a
        .qonto_json(
            reqwest::Method::POST,
            "/v2/webhook_subscriptions",
            Some(&json!({"callback_url": format!("{}/qonto", receiver.url), "types": ["v1/payment-links"]})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    a.admin_put("/scenario", &json!({"rules": []})).await;
    a.advance("1h").await;
    wait_for("first attempts", 10, || async {
        let waiting = a.deliveries("?status=scheduled").await.len()
            + a.deliveries("?status=in_flight").await.len();
        (waiting == 0).then_some(())
    })
    .await;
    let before = snapshot(&a).await;
    a.stop().await;

    let b = TestApp::spawn_with(config()).await;
    let after = snapshot(&b).await;
    assert_eq!(
        without_ids(after.clone()),
        without_ids(before.clone()),
        "the same state"
    );
    let words = |s: &Value| s["ids"]["words"].as_str().unwrap().parse::<u128>().unwrap();
    assert!(
        words(&after) > words(&before),
        "the id stream resumes past what was drawn"
    );
    link_as_created_and_paid(&b, &link).await;
    // A new link draws new ids, although the seed is the same.
    let (_, fresh) = b.create_payment_link(&json!({"amount": 100})).await;
    assert_ne!(fresh["id"], link["id"]);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_written_by_a_newer_version_is_refused_and_left_alone() {
    let dir = Scratch::new("newer");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("paylink-sandbox.db");
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let mut config = test_config();
    config.server.data_dir = Some(dir.0.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        paylink_sandbox::run(listener, config, std::future::pending()),
    )
    .await
    .expect("refused at once");
    let why = format!("{:#}", outcome.expect_err("a newer data dir is an error"));
    assert!(why.contains("newer") && why.contains("99"), "{why}");
    let conn = rusqlite::Connection::open(&file).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "left as it was");
}

/// A sandbox process with its address.
struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, receiver: &str) -> Process {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--seed", "7", "--data-dir"])
        .arg(dir)
        .args(["--razorpay-webhook-url", &format!("{receiver}/rzp")])
        .args(["--whatsapp-callback-url", &format!("{receiver}/wa")])
        // Retries three seconds apart outlast the three rounds (about ten seconds), so what
        // waits is still waiting at the last start rather than given up.
        .args(["--retry-schedule", "50ms,100ms,3s,3s,3s,3s,3s,3s,3s,3s"])
        .args(["--log-level", "warn"])
        .arg("--fast")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let at = line.find("http://").expect("the address in the banner");
    let base = line[at..].split_whitespace().next().unwrap().to_string();
    Process { child, base }
}

/// What the sandbox acknowledged before it was killed.
#[derive(Default, Clone)]
struct Acked {
    messages: Vec<(String, String)>,
    links: Vec<String>,
    payments: Vec<String>,
    qonto_links: Vec<String>,
    subscriptions: Vec<String>,
    ids: HashSet<String>,
}

/// The JSON answer to `request`; `None` once the sandbox is gone.
async fn answer(request: reqwest::RequestBuilder) -> Option<Value> {
    request.send().await.ok()?.json().await.ok()
}

/// Drives all three providers at once until the process dies; what it acknowledged lands in
/// `acked`.
async fn drive(base: String, receiver: String, acked: Arc<Mutex<Acked>>, round: usize) {
    let client = reqwest::Client::new();
    let _ = tokio::join!(
        tokio::spawn(drive_whatsapp(
            client.clone(),
            base.clone(),
            acked.clone(),
            round
        )),
        tokio::spawn(drive_gateway(
            client.clone(),
            base.clone(),
            acked.clone(),
            round
        )),
        tokio::spawn(drive_qonto(client, base, receiver, acked)),
    );
}

/// Sends orders until the sandbox stops answering.
async fn drive_whatsapp(
    client: reqwest::Client,
    base: String,
    acked: Arc<Mutex<Acked>>,
    round: usize,
) {
    for i in 0.. {
        let reference = format!("CRASH-{round}-{i}");
        let mut body = order_details(&reference);
        body["to"] = json!("+91 98765 43210");
        let Some(v) = answer(
            client
                .post(format!("{base}/whatsapp/v23.0/{PHONE_ID}/messages"))
                .bearer_auth(TOKEN)
                .json(&body),
        )
        .await
        else {
            return;
        };
        let id = v["messages"][0]["id"].as_str().unwrap().to_string();
        let mut a = acked.lock().unwrap();
        a.ids.insert(id.clone());
        a.messages.push((reference, id));
    }
}

/// Creates and pays gateway links until the sandbox stops answering.
async fn drive_gateway(
    client: reqwest::Client,
    base: String,
    acked: Arc<Mutex<Acked>>,
    round: usize,
) {
    for i in 0.. {
        let Some(link) = answer(
            client
                .post(format!("{base}/razorpay/v1/payment_links"))
                .basic_auth(RZP_KEY, Some(RZP_SECRET))
                .json(&json!({"amount": 1000 + i, "reference_id": format!("K{round}-{i}")})),
        )
        .await
        else {
            return;
        };
        let id = link["id"].as_str().unwrap().to_string();
        {
            let mut a = acked.lock().unwrap();
            a.ids.insert(id.clone());
            a.links.push(id.clone());
        }
        let Some(paid) = answer(
            client
                .post(format!("{base}/__sandbox/razorpay/payment_links/{id}/pay"))
                .json(&json!({"method": "upi"})),
        )
        .await
        else {
            return;
        };
        if let Some(p) = paid["payment_id"].as_str() {
            let mut a = acked.lock().unwrap();
            a.ids.insert(p.to_string());
            a.payments.push(p.to_string());
        }
    }
}

/// Creates Qonto links, and now and then a webhook subscription, until the sandbox stops
/// answering.
async fn drive_qonto(
    client: reqwest::Client,
    base: String,
    receiver: String,
    acked: Arc<Mutex<Acked>>,
) {
    for i in 0.. {
        let subscribe = i % 5 == 0;
        let (path, body) = if subscribe {
            (
                "/v2/webhook_subscriptions",
                json!({"callback_url": format!("{receiver}/qonto"), "types": ["v1/payment-links"]}),
            )
        } else {
            (
                "/v2/payment_links",
                json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
                "items": [{"title": "Tea", "quantity": 1, "unit_price": {"value": "2.00", "currency": "EUR"}, "vat_rate": "20.0"}]}}),
            )
        };
        let Some(v) = answer(
            client
                .post(format!("{base}/qonto{path}"))
                .header("authorization", QONTO_KEY)
                .json(&body),
        )
        .await
        else {
            return;
        };
        let mut a = acked.lock().unwrap();
        if let Some(id) = v["payment_link"]["id"].as_str() {
            a.ids.insert(id.to_string());
            a.qonto_links.push(id.to_string());
        } else if let Some(id) = v["id"].as_str() {
            a.ids.insert(id.to_string());
            a.subscriptions.push(id.to_string());
        }
    }
}

/// Checks that the restarted sandbox at `base` holds everything `acked` lists.
async fn check_acked(base: &str, acked: &Acked) {
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let r = client.get(path).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (_, messages) = get(format!("{base}/__sandbox/whatsapp/messages")).await;
    let kept: HashSet<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for (reference, id) in &acked.messages {
        assert!(
            kept.contains(id.as_str()),
            "message {id} ({reference}) was acknowledged and lost"
        );
    }
    let gateway = |path: String| {
        client
            .get(format!("{base}/razorpay/v1/{path}"))
            .basic_auth(RZP_KEY, Some(RZP_SECRET))
    };
    let qonto = |path: String| {
        client
            .get(format!("{base}/qonto/v2/{path}"))
            .header("authorization", QONTO_KEY)
    };
    let reads = (acked.links.iter())
        .map(|id| ("link", id, gateway(format!("payment_links/{id}"))))
        .chain(
            acked
                .payments
                .iter()
                .map(|id| ("payment", id, gateway(format!("payments/{id}")))),
        )
        .chain(
            (acked.qonto_links.iter())
                .map(|id| ("Qonto link", id, qonto(format!("payment_links/{id}")))),
        );
    for (what, id, read) in reads {
        let status = read.send().await.unwrap().status();
        assert_eq!(status, 200, "{what} {id} was acknowledged and lost");
    }
    let r = client
        .get(format!("{base}/qonto/v2/webhook_subscriptions"))
        .header("authorization", QONTO_KEY)
        .send()
        .await
        .unwrap();
    let subs = r.json::<Value>().await.unwrap().to_string();
    for id in &acked.subscriptions {
        assert!(
            subs.contains(id.as_str()),
            "subscription {id} was acknowledged and lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "three rounds of drive, kill, restart and check, read as one story"
)]
async fn a_killed_sandbox_loses_nothing_it_acknowledged_and_delivers_what_was_waiting() {
    let receiver = Receiver::start(Behaviour::Status(503)).await;
    let dir = Scratch::new("crash");
    let acked = Arc::new(Mutex::new(Acked::default()));
    // Kill points: early (the first writes), in the middle of the traffic, and later on, with
    // a different moment within each window on every run.
    let jitter = u64::try_from(rand_suffix() % 300).unwrap();
    let kill_points = [150 + jitter, 600 + jitter, 1200 + jitter];
    for (round, kill_after) in kill_points.into_iter().enumerate() {
        let process = start(&dir.0, &receiver.url);
        let driver = tokio::spawn(drive(
            process.base.clone(),
            receiver.url.clone(),
            acked.clone(),
            round,
        ));
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        // SIGKILL: no shutdown, no last write.
        let mut process = process;
        process.child.kill().unwrap();
        process.child.wait().unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(10), driver).await;
        let counts = {
            let a = acked.lock().unwrap();
            (
                a.messages.len(),
                a.links.len(),
                a.payments.len(),
                a.qonto_links.len(),
                a.subscriptions.len(),
            )
        };
        eprintln!(
            "round {round}: killed after {kill_after} ms; acknowledged so far (messages, links, payments, Qonto links, subscriptions): {counts:?}"
        );

        let restarted = start(&dir.0, &receiver.url);
        let so_far = acked.lock().unwrap().clone();
        check_acked(&restarted.base, &so_far).await;
        // New ids after the restart are new, although the seed is the same.
        let client = reqwest::Client::new();
        for i in 0..5 {
            let link: Value = client
                .post(format!("{}/razorpay/v1/payment_links", restarted.base))
                .basic_auth(RZP_KEY, Some(RZP_SECRET))
                .json(&json!({"amount": 5000 + i}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = link["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{link}"))
                .to_string();
            let mut a = acked.lock().unwrap();
            assert!(a.ids.insert(id.clone()), "id {id} was handed out twice");
            a.links.push(id);
        }
        drop(restarted);
    }

    // Last: the receiver comes back, and every waiting delivery arrives with its event id.
    receiver.set(Behaviour::Ok { verify_token: None });
    let process = start(&dir.0, &receiver.url);
    let client = reqwest::Client::new();
    let deliveries = wait_for("every waiting delivery delivered", 60, || async {
        let all: Value = client
            .get(format!("{}/__sandbox/webhooks", process.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let list = all["deliveries"].as_array()?.clone();
        list.iter()
            .all(|d| {
                !["scheduled", "retrying", "in_flight"]
                    .contains(&d["status"].as_str().unwrap_or(""))
            })
            .then_some(list)
    })
    .await;
    let received: HashSet<String> = receiver
        .posts()
        .iter()
        .filter_map(|p| p.header("x-razorpay-event-id"))
        .collect();
    let delivered: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d["provider"] == "razorpay" && d["status"] == "delivered")
        .collect();
    assert!(
        !delivered.is_empty(),
        "gateway events waited through the crashes"
    );
    for d in &delivered {
        let id = d["id"].as_str().unwrap();
        assert!(
            received.contains(id),
            "delivery {id} is marked delivered but never arrived"
        );
    }
    // Every acknowledged payment's capture reached the merchant, signed as the gateway signs.
    let captured: HashSet<String> = receiver
        .posts()
        .iter()
        .filter(|p| {
            p.header("x-razorpay-signature").as_deref()
                == Some(hmac_sha256_hex(RZP_WEBHOOK_SECRET.as_bytes(), &[&p.body]).as_str())
        })
        .map(crate::receiver::Received::json)
        .filter(|v| v["event"] == "payment.captured")
        .filter_map(|v| {
            v["payload"]["payment"]["entity"]["id"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let payments = acked.lock().unwrap().payments.clone();
    for p in &payments {
        assert!(
            captured.contains(p),
            "payment.captured for acknowledged payment {p} never arrived"
        );
    }
    drop(process);
}
