//! Webhook signatures: the trait a provider's signer implements, and the HMAC every vendor here
//! builds its scheme on. The schemes themselves live with their providers.

use hmac::{KeyInit, Mac};

/// Lowercase hex HMAC-SHA256 of the concatenated `parts`, keyed with `key`.
pub(crate) fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    // Invariant: HMAC accepts keys of any length.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// How a provider signs a webhook and what counts as received, computed over exactly the bytes
/// sent.
pub(crate) trait Sign: Send + Sync + std::fmt::Debug {
    /// The headers of one attempt (content type, user agent, signature, event id). `now_secs`
    /// matters only to schemes that sign a timestamp.
    fn headers(&self, body: &[u8], now_secs: i64, event_id: &str) -> Vec<(&'static str, String)>;

    /// The secret the signatures are keyed with, for a saved state (the provider makes the
    /// signer again from it).
    fn secret(&self) -> &str;

    /// Whether the receiver's status acknowledges the delivery (any 2xx unless the vendor says
    /// otherwise).
    fn accepts(&self, status: u16) -> bool {
        (200..300).contains(&status)
    }
}
