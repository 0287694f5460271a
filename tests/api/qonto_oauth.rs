//! Qonto's OAuth flow on the sandbox clock: consent, code exchange, an access token that expires
//! after an hour, refresh with rotation, and OAuth 2.0's errors.

use reqwest::{Method, redirect::Policy};
use serde_json::Value;

use crate::helpers::TestApp;
use crate::qonto_links::frozen;

const CLIENT: (&str, &str) = (
    "paylink-sandbox-oauth-client",
    "paylinkSandboxOAuthSecret01",
);
const REDIRECT: &str = "http://127.0.0.1:8000/qonto/callback";

async fn code(app: &TestApp, scope: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(app.url("/qonto/oauth2/auth"))
        .query(&[
            ("client_id", CLIENT.0),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "redirected back to the client");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = location.split_once('?').unwrap().1;
    let pairs = crate::helpers::query_pairs(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("state").as_deref(), Some("xyz"));
    get("code").unwrap_or_else(|| panic!("no code in {location}"))
}

async fn token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/qonto/oauth2/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn list_with(app: &TestApp, access: &str) -> u16 {
    app.client
        .request(Method::GET, app.url("/qonto/v2/payment_links"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_become_tokens_that_expire_and_refresh_with_rotation() {
    let app = TestApp::spawn_with(frozen()).await;
    let code = code(&app, "payment_link.read offline_access").await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT.0),
        ("client_secret", CLIENT.1),
    ];
    let (status, tokens) = token(&app, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "payment_link.read offline_access");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let (status, again) = token(&app, &exchange).await;
    assert_eq!(status, 400, "a code works once: {again}");
    assert_eq!(again["error"], "invalid_grant");

    assert_eq!(list_with(&app, &access).await, 200);
    app.advance("61m").await;
    assert_eq!(list_with(&app, &access).await, 401, "expired after an hour");

    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", CLIENT.0),
        ("client_secret", CLIENT.1),
    ];
    let (status, renewed) = token(&app, &refresh_form).await;
    assert_eq!(status, 200, "{renewed}");
    let fresh = renewed["access_token"].as_str().unwrap();
    assert_ne!(fresh, access);
    assert_eq!(list_with(&app, fresh).await, 200);
    let (status, reused) = token(&app, &refresh_form).await;
    assert_eq!(
        status, 400,
        "the old refresh token was rotated away: {reused}"
    );
    assert_eq!(reused["error"], "invalid_grant");

    // Scopes carry into the token: read-only cannot create.
    let created = app
        .client
        .post(app.url("/qonto/v2/payment_links"))
        .bearer_auth(fresh)
        .json(&crate::qonto_links::basket(&["credit_card"], false))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_errors_use_oauths_own_shape() {
    let app = TestApp::spawn().await;
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", CLIENT.0),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(v["error"], "invalid_client");
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "password"),
            ("client_id", CLIENT.0),
            ("client_secret", CLIENT.1),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "unsupported_grant_type");
    let r = app
        .client
        .get(app.url("/qonto/oauth2/auth?client_id=nobody&redirect_uri=http://127.0.0.1:1/cb&response_type=code&scope=webhook"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
