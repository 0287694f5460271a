//! The clock advance as a simulation step: one advance runs every job that falls due inside its
//! window, the jobs those jobs schedule inside it too, each stamped with its own due time, and
//! answers only once every delivery due by then has made its attempt.

use std::time::Duration;

use paylink_sandbox::config::Config;
use serde_json::Value;

use crate::helpers::{TestApp, text_message, whatsapp_sequence};
use crate::receiver::{Behaviour, Receiver};

const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/// A frozen clock at `START_MS`, WhatsApp webhooks to `url`, the default retry schedule.
fn frozen_config(url: &str) -> Config {
    let mut config = crate::helpers::test_config();
    config.providers.whatsapp.callback_url = Some(url.to_string());
    config.clock.frozen = true;
    config.clock.start = Some("2026-01-01T00:00:00Z".into());
    config
}

fn attempt_times(delivery: &Value) -> Vec<i64> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["at"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_advance_runs_every_retry_that_falls_due_inside_it() {
    let receiver = Receiver::start(Behaviour::Status(500)).await;
    let app = TestApp::spawn_with(frozen_config(&receiver.url)).await;
    let (code, _) = app
        .send_message_json(&text_message("16505551234", "hello"))
        .await;
    assert_eq!(code, 200);

    let clock = app.advance("3h").await;
    let ran = &clock["ran"];
    assert_eq!(ran["complete"], true, "{clock}");
    // Three statuses, each tried once and retried six times on the default schedule
    // (0s, 10s, 1m, 5m, 30m, 2h: 2h36m10s in all, inside the window).
    assert_eq!(ran["deliveries"]["failed"], 3, "{clock}");
    assert_eq!(ran["deliveries"]["retrying"], 18, "{clock}");
    assert_eq!(ran["deliveries"]["delivered"], 0, "{clock}");
    assert_eq!(
        ran["jobs_run"],
        3 + 21,
        "3 statuses and 21 attempts: {clock}"
    );
    assert_eq!(clock["pending_jobs"], 0, "{clock}");
    assert_eq!(clock["next_due"], Value::Null);
    assert_eq!(clock["now_ms"], START_MS + 3 * 3_600_000);
    // 21 attempts, plus the verification of the configured callback at start-up.
    assert_eq!(
        receiver.received().len(),
        22,
        "every attempt reached the receiver before the advance answered"
    );

    let deliveries = app.deliveries("?provider=whatsapp").await;
    assert_eq!(deliveries.len(), 3);
    let gaps = [0, 10_000, 60_000, 300_000, 1_800_000, 7_200_000];
    for d in &deliveries {
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["attempt_count"], 7, "{d}");
        let (_, full) = app
            .admin_get(&format!("/webhooks/{}", d["id"].as_str().unwrap()))
            .await;
        let times = attempt_times(&full);
        let first = full["due_at"].as_i64().unwrap();
        let mut expected = vec![first];
        for gap in gaps {
            expected.push(expected.last().unwrap() + gap);
        }
        assert_eq!(times, expected, "each attempt at its own due time: {full}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advance_answers_after_its_deliveries_landed_stamped_at_their_due_times() {
    let receiver = Receiver::start(Behaviour::Ok {
        verify_token: Some("paylink-sandbox-verify-token".into()),
    })
    .await;
    let mut config = frozen_config(&receiver.url);
    whatsapp_sequence(&mut config).delays = ["1s", "30s", "10m"]
        .iter()
        .map(|d| paylink_sandbox::clock::Span(paylink_sandbox::clock::parse_duration(d).unwrap()))
        .collect();
    let app = TestApp::spawn_with(config).await;
    for to in ["16505551234", "16505551235"] {
        let (code, _) = app.send_message_json(&text_message(to, "hi")).await;
        assert_eq!(code, 200);
    }
    assert!(
        receiver.posts().is_empty(),
        "nothing is due on a frozen clock"
    );

    let clock = app.advance("45s").await;
    // No waiting: the advance answered after the attempts were made.
    let posts = receiver.posts();
    assert_eq!(posts.len(), 4, "sent and delivered for both messages");
    assert_eq!(clock["ran"]["deliveries"]["delivered"], 4, "{clock}");
    let stamps: Vec<(String, i64)> = posts
        .iter()
        .map(|p| {
            let s = &p.json()["entry"][0]["changes"][0]["value"]["statuses"][0];
            (
                s["status"].as_str().unwrap().to_string(),
                s["timestamp"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let t0 = START_MS / 1000;
    assert_eq!(
        stamps,
        [
            ("sent".to_string(), t0 + 1),
            ("sent".to_string(), t0 + 1),
            ("delivered".to_string(), t0 + 30),
            ("delivered".to_string(), t0 + 30),
        ],
        "each status stamped with its own due time, not the end of the window"
    );
    assert_eq!(clock["next_due_ms"], START_MS + 600_000, "{clock}");

    let clock = app.advance("10m").await;
    assert_eq!(receiver.posts().len(), 6);
    assert_eq!(clock["ran"]["deliveries"]["delivered"], 2, "{clock}");
    assert_eq!(clock["offset_ms"], 645_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advance_waits_for_a_slow_receiver_and_concurrent_advances_queue() {
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(150))).await;
    let app = TestApp::spawn_with(frozen_config(&receiver.url)).await;
    let (code, _) = app
        .send_message_json(&text_message("16505551234", "hello"))
        .await;
    assert_eq!(code, 200);

    // The default statuses fall due at 200 ms, 600 ms and 1.5 s; the two advances cover them.
    let (a, b) = tokio::join!(app.advance("1s"), app.advance("1s"));
    let delivered = |c: &Value| c["ran"]["deliveries"]["delivered"].as_u64().unwrap();
    assert_eq!(delivered(&a) + delivered(&b), 3, "{a}\n{b}");
    assert_eq!(
        receiver.posts().len(),
        3,
        "every status reached the slow receiver before the advances answered"
    );
    // The start-up verification may still be waiting on the slow receiver when the first
    // delivery needs one, so there are one or two.
    assert!(
        (1..=2).contains(&receiver.gets().len()),
        "{} verification handshakes",
        receiver.gets().len()
    );
    let (_, clock) = app.admin_get("/clock").await;
    assert_eq!(clock["offset_ms"], 2000, "both advances applied: {clock}");
}
