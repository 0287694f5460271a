//! Connection hygiene: clients that open a socket and send nothing, or send half a request's
//! headers, or keep a connection alive and go quiet, are closed after `server.header_read_timeout`
//! while the server keeps answering everyone else; past `server.max_connections` new clients
//! wait for a free slot instead of being served without bound.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::*;

fn limited(header_read_timeout_ms: u64, max_connections: usize) -> paylink_sandbox::config::Config {
    let mut config = test_config();
    config.server.header_read_timeout =
        paylink_sandbox::clock::Span(Duration::from_millis(header_read_timeout_ms));
    config.server.max_connections = max_connections;
    config
}

/// Waits until the server closes `socket` (end of stream or reset); how long that took.
async fn closed_within(socket: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), socket.read(&mut buf))
            .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {} // an answer (a 408, or a kept-alive reply); keep reading
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_clients_are_closed_while_the_server_keeps_answering() {
    let app = TestApp::spawn_with(limited(600, 1024)).await;
    let mut sockets = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        if i % 2 == 1 {
            // Half a request: the headers never end.
            s.write_all(b"GET /__sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .unwrap();
        }
        sockets.push(s);
    }
    // A kept-alive connection that answered once and then went quiet.
    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /__sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 64];
    let n = kept.read(&mut first).await.unwrap();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&first[..n])
    );
    // Everyone else is served meanwhile.
    for _ in 0..20 {
        let (status, _) = app.admin_get("/health").await;
        assert_eq!(status, 200);
    }
    let mut slowest = Duration::ZERO;
    for s in sockets.iter_mut().chain(std::iter::once(&mut kept)) {
        let took = closed_within(s, Duration::from_secs(5))
            .await
            .expect("the server closed the connection");
        slowest = slowest.max(took);
    }
    assert!(
        slowest < Duration::from_secs(3),
        "the last one closed after {slowest:?}"
    );
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_beyond_the_connection_cap_wait_for_a_free_slot() {
    let app = TestApp::spawn_with(limited(800, 4)).await;
    // TestApp's own client holds a kept-alive connection from the readiness check; drop it.
    drop(app.client.clone());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let start = Instant::now();
    let answer = fresh
        .get(app.url("/__sandbox/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("served once a slot frees");
    let waited = start.elapsed();
    assert_eq!(answer.status(), 200);
    assert!(
        waited >= Duration::from_millis(400),
        "served after {waited:?}, while four idle connections held every slot"
    );
    for s in &mut idle {
        assert!(closed_within(s, Duration::from_secs(3)).await.is_some());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_outage_drops_the_oldest_waiting_deliveries_and_says_how_many() {
    let unreachable = crate::receiver::unreachable_url().await;
    let mut config = crate::razorpay_links::rzp_config(Some(&unreachable));
    config.webhooks.max_waiting = 25;
    // Long retries: every delivery stays waiting for the whole test.
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("1h,1h,1h").unwrap();
    let app = TestApp::spawn_with(config).await;
    for i in 0..20 {
        let (status, link) = app
            .create_payment_link(&serde_json::json!({"amount": 1000 + i, "currency": "INR"}))
            .await;
        assert_eq!(status, 200, "{link}");
        let (status, paid) = app.pay_link(link["id"].as_str().unwrap(), "success").await;
        assert_eq!(status, 200, "{paid}");
    }
    // 20 payments × 4 events = 80 deliveries, at most 25 kept waiting.
    let (_, health) = app.admin_get("/health").await;
    let webhooks = &health["webhooks"];
    let waiting: u64 = ["scheduled", "retrying", "in_flight"]
        .iter()
        .map(|s| webhooks[*s].as_u64().unwrap_or(0))
        .sum();
    assert!(waiting <= 25, "{webhooks}");
    assert_eq!(webhooks["dropped"], 80 - waiting, "{webhooks}");
    let (_, log) = app.admin_get("/webhooks?limit=1000").await;
    assert_eq!(log["dropped"], webhooks["dropped"], "{log}");
    assert_eq!(log["deliveries"].as_array().unwrap().len() as u64, waiting);
    // The newest survive: the last payment's payment_link.paid is still there.
    let last = log["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["event"], "payment_link.paid", "{last}");
    let (status, _) = app
        .create_payment_link(&serde_json::json!({"amount": 5000, "currency": "INR"}))
        .await;
    assert_eq!(status, 200, "the API keeps answering");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_gets_several_attempts_at_once_each_link_in_order_and_others_never_wait() {
    use crate::receiver::{Behaviour, Receiver};
    let slow = Receiver::start(Behaviour::Slow(Duration::from_millis(400))).await;
    let fast = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(crate::razorpay_links::rzp_config(Some(&slow.url))).await;
    let (status, sub) = app
        .qonto_json(
            reqwest::Method::POST,
            "/v2/webhook_subscriptions",
            Some(&serde_json::json!({"callback_url": fast.url, "types": ["v1/payment-links"]})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let started = Instant::now();
    let mut links = Vec::new();
    for i in 0..8 {
        let (_, link) = app
            .create_payment_link(&serde_json::json!({"amount": 1000 + i, "currency": "INR"}))
            .await;
        let id = link["id"].as_str().unwrap().to_string();
        app.pay_link(&id, "success").await;
        links.push(id);
    }
    // While the slow receiver works through 32 events, another URL's event goes out at once.
    let (status, _) = app
        .create_qonto_link(&serde_json::json!({"payment_link": {"potential_payment_methods": ["credit_card"],
            "reusable": false, "items": [{"title": "Tea", "quantity": 1,
            "unit_price": {"value": "4.50", "currency": "EUR"}, "vat_rate": "20.0", "type": "good"}]}}))
        .await;
    assert_eq!(status, 201);
    fast.wait_posts(1, 2).await;
    let other = started.elapsed();
    let posts = slow.wait_posts(32, 10).await;
    let all = started.elapsed();
    // One at a time would take 32 × 400 ms = 12.8 s. The 8 links' chains side by side take about
    // 1.6 s; a lane whose waiting events held its slots took over 3 s here.
    assert!(
        all < Duration::from_millis(2500),
        "32 slow deliveries took {all:?}"
    );
    assert!(
        other < Duration::from_secs(2),
        "the other URL's event waited {other:?}"
    );
    for id in &links {
        let order: Vec<String> = posts
            .iter()
            .map(crate::receiver::Received::json)
            .filter(|b| {
                b["payload"]["payment_link"]["entity"]["id"] == id.as_str()
                    || b["payload"]["payment"]["entity"]["description"]
                        == format!("#{}", id.trim_start_matches("plink_"))
            })
            .map(|b| b["event"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            order,
            [
                "payment.authorized",
                "payment.captured",
                "order.paid",
                "payment_link.paid"
            ],
            "{id}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_link_takes_its_waiting_jobs_with_it() {
    let mut config = test_config();
    config.server.store_limit = 5;
    let app = TestApp::spawn_with(config).await;
    let (_, before) = app.admin_get("/health").await;
    let base = before["pending_jobs"].as_u64().unwrap();
    for _ in 0..50 {
        let (status, link) = app
            .create_qonto_link(&serde_json::json!({"payment_link": {"potential_payment_methods": ["credit_card"],
                "reusable": false, "items": [{"title": "Tea", "quantity": 1,
                "unit_price": {"value": "4.50", "currency": "EUR"}, "vat_rate": "20.0", "type": "good"}]}}))
            .await;
        assert_eq!(status, 201, "{link}");
    }
    let (_, health) = app.admin_get("/health").await;
    // One expiry job per stored link: 5, not 50.
    assert_eq!(
        health["pending_jobs"].as_u64().unwrap() - base,
        5,
        "{health}"
    );
    let (_, list) = app
        .qonto_json(reqwest::Method::GET, "/v2/payment_links", None)
        .await;
    assert_eq!(list["meta"]["total_count"], 5, "{list}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_or_re_dated_gateway_link_leaves_no_expiry_job_behind() {
    let mut config = test_config();
    config.server.store_limit = 3;
    let app = TestApp::spawn_with(config).await;
    let (_, before) = app.admin_get("/health").await;
    let base = before["pending_jobs"].as_u64().unwrap();
    let now = crate::razorpay_links::now(&app).await;
    let mut last = String::new();
    for i in 0..20 {
        let (status, link) = app
            .create_payment_link(&serde_json::json!({"amount": 1000 + i, "currency": "INR", "expire_by": now + 3600}))
            .await;
        assert_eq!(status, 200, "{link}");
        last = link["id"].as_str().unwrap().to_string();
    }
    // A new expiry replaces the old one instead of adding a second job.
    let (status, _) = app
        .rzp_json(
            reqwest::Method::PATCH,
            &format!("/v1/payment_links/{last}"),
            Some(&serde_json::json!({"expire_by": now + 7200})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(
        health["pending_jobs"].as_u64().unwrap() - base,
        3,
        "{health}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_made_on_the_fly_are_bounded_the_least_recently_used_forgotten() {
    let mut config = test_config();
    config.server.accept_any_credentials = true;
    config.server.max_tenants = 3;
    let app = TestApp::spawn_with(config).await;
    let create = |key: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/razorpay/v1/payment_links"))
                .basic_auth(&key, Some("secret"))
                .json(&serde_json::json!({"amount": 1000, "currency": "INR"}))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let key = |i: usize| format!("rzp_test_Tenant{i:04}");
    let (status, first) = create(key(0)).await;
    assert_eq!(status, 200, "{first}");
    for i in 1..10 {
        // Tenant 0 stays in use; the others come and go.
        assert_eq!(create(key(i)).await.0, 200);
        let (again, ()) = app
            .client
            .get(app.url(&format!(
                "/razorpay/v1/payment_links/{}",
                first["id"].as_str().unwrap()
            )))
            .basic_auth(key(0), Some("secret"))
            .send()
            .await
            .map(|r| (r.status().as_u16(), ()))
            .unwrap();
        assert_eq!(again, 200, "the tenant in use keeps its link");
    }
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(health["tenants"]["dynamic"]["razorpay"], 3, "{health}");
    assert_eq!(health["tenants"]["evicted"], 7, "{health}");
    // A forgotten tenant starts over, empty; the configured one is untouched.
    let listed = app
        .client
        .get(app.url("/razorpay/v1/payment_links"))
        .basic_auth(key(1), Some("secret"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        listed["count"].as_u64().unwrap_or(
            listed["payment_links"]
                .as_array()
                .map_or(0, |a| a.len() as u64)
        ),
        0,
        "{listed}"
    );
    let (status, _) = app
        .create_payment_link(&serde_json::json!({"amount": 1000, "currency": "INR"}))
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}
