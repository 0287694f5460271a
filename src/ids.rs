//! Identifiers: the name a provider is mounted under, and the seeded generation of every id and
//! random choice the sandbox makes.
//!
//! One ChaCha stream, seeded from `--seed` (or from the OS, with the seed printed so a run can be
//! replayed), feeds wamids, Graph trace ids, Razorpay-style `plink_`/`pay_` ids, UUIDs and the
//! random draws of fault injection. Given the same seed and the same sequence of requests, two
//! runs produce the same ids.

use base64::Engine as _;
use parking_lot::Mutex;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const TRACE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const HEX_UPPER: &[u8] = b"0123456789ABCDEF";

/// The name a provider is mounted under (`/whatsapp`) and known by in rules, filters, the journal
/// and the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProviderId(&'static str);

impl ProviderId {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self(name)
    }

    pub(crate) const fn as_str(self) -> &'static str {
        self.0
    }

    /// The provider called `name`, if it is one of `providers`.
    pub(crate) fn known(name: &str, providers: &[&'static str]) -> Option<Self> {
        providers.iter().find(|p| **p == name).map(|p| Self(p))
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for ProviderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[derive(Debug)]
pub(crate) struct Ids {
    /// The stream's seed (a restored state may bring another).
    seed: std::sync::atomic::AtomicU64,
    rng: Mutex<ChaCha12Rng>,
}

impl Ids {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed: std::sync::atomic::AtomicU64::new(seed),
            rng: Mutex::new(ChaCha12Rng::seed_from_u64(seed)),
        }
    }

    /// A seed drawn from the operating system, for runs without `--seed`.
    pub(crate) fn random_seed() -> u64 {
        rand::rng().next_u64()
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Restarts the stream from the seed, as `POST /__sandbox/reset` does.
    pub(crate) fn reset(&self) {
        *self.rng.lock() = ChaCha12Rng::seed_from_u64(self.seed());
    }

    /// Where the stream stands: its seed and how many 32-bit words it has handed out.
    pub(crate) fn position(&self) -> (u64, u128) {
        let rng = self.rng.lock();
        (self.seed(), rng.get_word_pos())
    }

    /// Moves the stream to `words` from the start of `seed`'s, so that a restored state goes
    /// on drawing where it left off and never hands out an id twice. The stream's seed becomes
    /// `seed` (a reset then rewinds to the start of that stream).
    pub(crate) fn restore(&self, seed: u64, words: u128) {
        let mut fresh = ChaCha12Rng::seed_from_u64(seed);
        fresh.set_word_pos(words);
        let mut rng = self.rng.lock();
        self.seed.store(seed, std::sync::atomic::Ordering::SeqCst);
        *rng = fresh;
    }

    fn pick(&self, alphabet: &[u8], len: usize) -> String {
        let mut rng = self.rng.lock();
        (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
            .collect()
    }

    /// A uniform draw in `[0, 1)`.
    pub(crate) fn unit(&self) -> f64 {
        self.rng.lock().random::<f64>()
    }

    /// A uniform integer in `[low, high]`.
    pub(crate) fn between(&self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        self.rng.lock().random_range(low..=high)
    }

    pub(crate) fn alnum(&self, len: usize) -> String {
        self.pick(ALNUM, len)
    }

    pub(crate) fn digits(&self, len: usize) -> String {
        self.pick(b"0123456789", len)
    }

    pub(crate) fn hex_lower(&self, len: usize) -> String {
        self.pick(b"0123456789abcdef", len)
    }

    /// Razorpay-style entity id: the prefix, an underscore and 14 alphanumerics.
    pub(crate) fn prefixed(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.alnum(14))
    }

    /// A Graph `fbtrace_id`: 27 characters of `[A-Za-z0-9_-]`.
    pub(crate) fn fbtrace_id(&self) -> String {
        self.pick(TRACE, 27)
    }

    /// A WhatsApp message id shaped like the real ones: `wamid.` and the standard base64 of a small
    /// Thrift-compact struct holding the user's digits, a from-me flag and an uppercase hex id
    /// (18 characters for business-sent messages, 20 starting `3A` for user-sent ones).
    pub(crate) fn wamid(&self, wa_id: &str, from_me: bool) -> String {
        let digits: String = wa_id
            .chars()
            .filter(char::is_ascii_digit)
            .take(20)
            .collect();
        let hex = if from_me {
            self.pick(HEX_UPPER, 18)
        } else {
            format!("3A{}", self.pick(HEX_UPPER, 18))
        };
        let mut raw = Vec::with_capacity(digits.len() + hex.len() + 10);
        raw.extend_from_slice(&[0x1C, 0x18, digits.len() as u8]);
        raw.extend_from_slice(digits.as_bytes());
        raw.extend_from_slice(&[0x15, 0x02, 0x00, if from_me { 0x11 } else { 0x12 }, 0x18]);
        raw.push(hex.len() as u8);
        raw.extend_from_slice(hex.as_bytes());
        raw.push(0x00);
        format!(
            "wamid.{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// A random (version 4) UUID in its hyphenated lowercase form.
    pub(crate) fn uuid_v4(&self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.lock().fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// A time-ordered (version 7) UUID for sandbox time `ms`, as Qonto's ids are.
    pub(crate) fn uuid_v7(&self, ms: i64) -> String {
        let mut bytes = [0u8; 10];
        self.rng.lock().fill_bytes(&mut bytes);
        uuid::Builder::from_unix_timestamp_millis(ms.max(0).unsigned_abs(), &bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

/// A UUID (version 7 in shape) derived from a digest rather than drawn: the same input always
/// gives the same id, and the seeded stream is left alone.
pub(crate) fn uuid_from_digest(digest: &[u8; 32]) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_ids() {
        let a = Ids::new(7);
        let b = Ids::new(7);
        assert_eq!(a.wamid("16505551234", true), b.wamid("16505551234", true));
        assert_eq!(a.fbtrace_id(), b.fbtrace_id());
        assert_eq!(a.prefixed("plink"), b.prefixed("plink"));
        assert_ne!(Ids::new(8).fbtrace_id(), Ids::new(7).fbtrace_id());
    }

    #[test]
    fn a_wamid_decodes_to_the_recipient_and_a_hex_id() {
        let ids = Ids::new(1);
        let id = ids.wamid("+1 650-555-1234", true);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(id.strip_prefix("wamid.").unwrap())
            .unwrap();
        assert_eq!(&raw[..3], &[0x1C, 0x18, 11]);
        assert_eq!(&raw[3..14], b"16505551234");
        assert_eq!(raw[17], 0x11);
        assert_eq!(raw[19] as usize, 18);
        let inbound = ids.wamid("16505551234", false);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(inbound.strip_prefix("wamid.").unwrap())
            .unwrap();
        assert_eq!(raw[17], 0x12);
        assert_eq!(&raw[20..22], b"3A");
    }

    #[test]
    fn uuids_carry_their_version() {
        let ids = Ids::new(3);
        let v4 = ids.uuid_v4();
        assert_eq!(v4.len(), 36);
        assert_eq!(&v4[14..15], "4");
        let v7 = ids.uuid_v7(1_760_000_000_000);
        assert_eq!(&v7[14..15], "7");
        assert!(v7.starts_with("0199"));
    }

    #[test]
    fn trace_ids_use_the_graph_alphabet() {
        let t = Ids::new(5).fbtrace_id();
        assert_eq!(t.len(), 27);
        assert!(t.bytes().all(|c| TRACE.contains(&c)));
    }
}
