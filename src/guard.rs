//! What keeps a sandbox on a developer's machine from being driven by anything but that developer:
//! a web page in their browser, a DNS-rebinding host name, or the sandbox's own webhooks.
//!
//! - **Host**: a request whose `Host` is not one the sandbox serves is refused (loopback names and
//!   addresses, the bound address, the public URL's host, and `--allowed-host` names; `*` allows
//!   any). A rebinding page reaches the sandbox under its own name and is turned away.
//! - **Cross-site writes to the admin API**: a state-changing admin call from another origin
//!   (`Origin`, or `Sec-Fetch-Site: cross-site`) is refused, and its body must be JSON (or TOML
//!   where documented). A page can post `text/plain` or a form without a preflight; it cannot post
//!   `application/json`. A bodiless call without a content type (`curl -X POST .../reset`) stays
//!   allowed: browsers send `Origin` with every cross-origin POST, so a page cannot make one.
//! - **Hosted forms** (checkout, onboarding) carry a token bound to the page, derived from a
//!   secret drawn from the operating system at start-up (never from `--seed`, which may be known).
//! - **Self-delivery**: a webhook URL that points at the sandbox itself is refused when it is set,
//!   and every webhook the sandbox sends carries a per-process loop token that the sandbox refuses
//!   should a host name resolve back to it at delivery time.
//! - **Response headers**: `nosniff` everywhere; HTML pages get a content security policy with
//!   `frame-ancestors 'none'` and `X-Frame-Options: DENY`.
//!
//! This module knows no provider: it answers in the admin envelope, and the provider layer asks
//! the provider for its own envelope where a provider route is refused.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use hmac::{KeyInit, Mac};
use rand::RngExt;

use crate::webhook::LOOP_HEADER;

/// Why a request was turned away before any handler saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The `Host` header names a host the sandbox does not serve (403).
    Host(String),
    /// A state-changing admin call from another site (403).
    CrossSite(String),
    /// A state-changing admin call whose body is neither JSON nor documented TOML (415).
    MediaType(String),
    /// A request that is one of this sandbox's own webhooks coming back (508).
    Loop,
}

impl Refusal {
    pub(crate) fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::Host(_) | Self::CrossSite(_) => StatusCode::FORBIDDEN,
            Self::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Loop => StatusCode::LOOP_DETECTED,
        }
    }

    /// A short machine-readable code for the admin envelope.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Host(_) => "forbidden_host",
            Self::CrossSite(_) => "cross_site_request",
            Self::MediaType(_) => "unsupported_media_type",
            Self::Loop => "webhook_loop",
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Self::Host(host) => format!(
                "Host {host:?} is not one this sandbox serves; start it with --allowed-host {host} if you meant to reach it by that name"
            ),
            Self::CrossSite(origin) => format!(
                "state-changing admin calls are refused from another site ({origin}); call the admin API from your tests or the dashboard"
            ),
            Self::MediaType(media) => format!(
                "send the body as Content-Type: application/json (got {media:?})"
            ),
            Self::Loop => "this request is one of this sandbox's own webhooks, sent back to it; point the webhook at your receiver".to_string(),
        }
    }
}

/// The hosts and addresses this sandbox answers to, and its secrets for forms and loops.
#[derive(Debug)]
pub(crate) struct Guard {
    any_host: bool,
    hosts: Vec<String>,
    ips: Vec<IpAddr>,
    ports: Vec<u16>,
    form_secret: [u8; 32],
    loop_token: String,
}

impl Guard {
    /// `addr` is the bound address, `public` the base URL links use, `allowed` the extra names.
    pub(crate) fn new(addr: SocketAddr, public: &str, allowed: &[String]) -> Self {
        let mut rng = rand::rng();
        let mut form_secret = [0u8; 32];
        rng.fill(&mut form_secret);
        let loop_token = hex::encode(rng.random::<[u8; 16]>());
        let mut guard = Self {
            any_host: allowed.iter().any(|h| h == "*"),
            hosts: allowed
                .iter()
                .filter(|h| *h != "*")
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            ips: vec![addr.ip()],
            ports: vec![addr.port()],
            form_secret,
            loop_token,
        };
        if let Ok(url) = url::Url::parse(public) {
            if let Some(port) = url.port_or_known_default()
                && !guard.ports.contains(&port)
            {
                guard.ports.push(port);
            }
            match url.host() {
                Some(url::Host::Ipv4(ip)) => guard.ips.push(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => guard.ips.push(IpAddr::V6(ip)),
                Some(url::Host::Domain(d)) => guard.hosts.push(d.to_ascii_lowercase()),
                None => {}
            }
        }
        guard
    }

    /// This process's loop token, sent with every webhook.
    pub(crate) fn loop_token(&self) -> &str {
        &self.loop_token
    }

    /// Whether a host name or address (without port) is this machine as the sandbox knows it.
    fn is_own_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let lower = host.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") {
            return true;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return ip.is_loopback() || ip.is_unspecified() || self.ips.contains(&ip);
        }
        self.hosts.contains(&lower)
    }

    /// Whether a `Host` header (with or without port) names a host this sandbox serves. A
    /// request without one (HTTP/1.0) is let through: browsers always send it.
    pub(crate) fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        self.any_host || self.is_own_host(strip_port(host))
    }

    /// Whether an `Origin` header is this sandbox's own (a page it served).
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        match url::Url::parse(origin) {
            Ok(url) => url.host_str().is_some_and(|h| self.is_own_host(h)),
            Err(_) => false,
        }
    }

    /// Checks every request before routing: its host and whether it is a webhook come back.
    pub(crate) fn check_request(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if headers
            .get(LOOP_HEADER)
            .is_some_and(|v| v.as_bytes() == self.loop_token.as_bytes())
        {
            return Err(Refusal::Loop);
        }
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if !self.host_allowed(host) {
            return Err(Refusal::Host(host.unwrap_or_default().to_string()));
        }
        Ok(())
    }

    /// Checks a call to the admin API: reads pass; a state-changing call must come from this
    /// sandbox's own pages (or no browser at all) and carry JSON, or TOML where `toml_ok`.
    pub(crate) fn check_admin(
        &self,
        method: &Method,
        headers: &HeaderMap,
        toml_ok: bool,
    ) -> Result<(), Refusal> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        self.check_same_site(headers)?;
        let Some(media) = crate::http::media_type(headers) else {
            // No body type: only a bodiless call can be served (the JSON reader refuses a body
            // it cannot type), and a browser sends `Origin` with it, refused above.
            return Ok(());
        };
        let json = media == "application/json" || media.ends_with("+json");
        let toml = toml_ok && (media == "application/toml" || media == "text/toml");
        if json || toml {
            Ok(())
        } else {
            Err(Refusal::MediaType(media))
        }
    }

    /// Refuses a request a browser sent from another site.
    pub(crate) fn check_same_site(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_allowed(origin) {
                return Err(Refusal::CrossSite(format!("Origin {origin}")));
            }
        }
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if let Some(site @ ("cross-site" | "same-site")) = fetch_site {
            return Err(Refusal::CrossSite(format!("Sec-Fetch-Site {site}")));
        }
        Ok(())
    }

    /// The anti-forgery token of a hosted form; `scope` names the page (`razorpay:<code>`).
    pub(crate) fn form_token(&self, scope: &str) -> String {
        crate::webhook::sign::hmac_sha256_hex(&self.form_secret, &[scope.as_bytes()])
    }

    /// Whether a posted form came from its page: the token matches and no other site sent it.
    pub(crate) fn form_allowed(
        &self,
        scope: &str,
        token: Option<&str>,
        headers: &HeaderMap,
    ) -> bool {
        let Some(token) = token.and_then(|t| hex::decode(t).ok()) else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.form_secret) else {
            return false;
        };
        mac.update(scope.as_bytes());
        mac.verify_slice(&token).is_ok() && self.check_same_site(headers).is_ok()
    }

    /// Refuses a webhook URL that points at the sandbox itself: webhooks go to the merchant's
    /// receiver, and one sent to the sandbox's own routes would act on it.
    pub(crate) fn check_webhook_url(&self, url: &str) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let own_host = parsed.host_str().is_some_and(|h| self.is_own_host(h));
        let own_port = parsed
            .port_or_known_default()
            .is_some_and(|p| self.ports.contains(&p));
        if own_host && own_port {
            return Err(format!(
                "{url} points at this sandbox itself; webhooks must go to a receiver of yours"
            ));
        }
        Ok(())
    }
}

/// `host:port`, `[v6]:port`, `host` or `[v6]` without the port.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

/// The address other machines reach this one at, for a sandbox bound to every interface: the
/// local address the system would route an outgoing packet from (no packet is sent).
pub(crate) fn reachable_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// The security headers of every answer: `nosniff` always; for HTML, a content security policy
/// (unless the page set its own), no framing and no referrer to other sites.
pub(crate) fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
            && let Ok(csp) = HeaderValue::from_str(&page_policy())
        {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
}

/// The policy of the server-rendered pages: nothing but their one inline stylesheet and script
/// (allowed by their hashes), images from the sandbox, forms posting back to it, and no framing.
fn page_policy() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY
        .get_or_init(|| {
            let hash = |text: &str| {
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
            };
            format!(
                "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
                hash(crate::ui::PAGE_CSS),
                hash(crate::ui::PAGE_JS)
            )
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(
            "127.0.0.1:5080".parse().unwrap(),
            "http://127.0.0.1:5080",
            &["sandbox.internal".to_string()],
        )
    }

    #[test]
    fn only_hosts_the_sandbox_serves_pass() {
        let g = guard();
        for ok in [
            "127.0.0.1:5080",
            "localhost:5080",
            "LOCALHOST",
            "app.localhost:5080",
            "[::1]:5080",
            "sandbox.internal:8443",
        ] {
            assert!(g.host_allowed(Some(ok)), "{ok}");
        }
        for bad in ["evil.example:5080", "evil.example", "127.0.0.1.nip.io:5080"] {
            assert!(!g.host_allowed(Some(bad)), "{bad}");
        }
        let any = Guard::new("127.0.0.1:1".parse().unwrap(), "http://x", &["*".into()]);
        assert!(any.host_allowed(Some("evil.example")));
    }

    #[test]
    fn admin_writes_need_json_from_no_other_site() {
        let g = guard();
        let mut h = HeaderMap::new();
        assert!(g.check_admin(&Method::POST, &h, false).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(matches!(
            g.check_admin(&Method::POST, &h, false),
            Err(Refusal::MediaType(_))
        ));
        assert!(g.check_admin(&Method::GET, &h, false).is_ok());
        h.insert(header::CONTENT_TYPE, "application/toml".parse().unwrap());
        assert!(g.check_admin(&Method::PUT, &h, true).is_ok());
        assert!(g.check_admin(&Method::PUT, &h, false).is_err());
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(matches!(
            g.check_admin(&Method::POST, &h, false),
            Err(Refusal::CrossSite(_))
        ));
        h.insert(header::ORIGIN, "http://127.0.0.1:5080".parse().unwrap());
        assert!(g.check_admin(&Method::POST, &h, false).is_ok());
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(g.check_admin(&Method::POST, &h, false).is_err());
    }

    #[test]
    fn form_tokens_are_bound_to_their_page() {
        let g = guard();
        let t = g.form_token("razorpay:abc");
        let h = HeaderMap::new();
        assert!(g.form_allowed("razorpay:abc", Some(&t), &h));
        assert!(!g.form_allowed("razorpay:abd", Some(&t), &h));
        assert!(!g.form_allowed("razorpay:abc", None, &h));
        assert!(!g.form_allowed("razorpay:abc", Some("zz"), &h));
        let other = guard();
        assert!(
            !other.form_allowed("razorpay:abc", Some(&t), &h),
            "secrets differ per process"
        );
    }

    #[test]
    fn webhook_urls_may_not_point_at_the_sandbox() {
        let g = guard();
        for bad in [
            "http://127.0.0.1:5080/__sandbox/reset",
            "http://localhost:5080/x",
            "http://0.0.0.0:5080/",
            "http://[::1]:5080/",
            "http://127.0.0.2:5080/",
        ] {
            assert!(g.check_webhook_url(bad).is_err(), "{bad}");
        }
        for ok in [
            "http://127.0.0.1:9000/hook",
            "https://hooks.example/q",
            "http://localhost:5081/",
        ] {
            assert!(g.check_webhook_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("a:1"), "a");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("a"), "a");
    }
}
