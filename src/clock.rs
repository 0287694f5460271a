//! The sandbox clock: the one place that reads the wall clock.
//!
//! Everything time-based (timestamps in responses and webhooks, expirations, delayed deliveries)
//! asks this clock. It runs in one of two modes:
//! - **running** (default): real time since start-up, plus whatever has been advanced;
//! - **frozen**: time stands still at its start value and moves only when advanced, which makes
//!   two runs with the same seed produce identical timestamps.
//!
//! The clock never goes backwards. Every move wakes the tasks that wait on it; the admin API's
//! advance walks its window due time by due time (see `crate::advance`).

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug)]
pub struct Clock {
    frozen: bool,
    start_ms: Millis,
    started: Instant,
    offset_ms: AtomicI64,
    /// Bumped on every advance or reset so that waiters can re-plan.
    epoch: watch::Sender<u64>,
}

impl Clock {
    /// A clock that starts at `start_ms` (or the current wall time) and runs or stands still.
    pub fn new(start_ms: Option<Millis>, frozen: bool) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0);
        Self {
            frozen,
            start_ms: start_ms.unwrap_or(wall),
            started: Instant::now(),
            offset_ms: AtomicI64::new(0),
            epoch: watch::channel(0).0,
        }
    }

    pub fn now_ms(&self) -> Millis {
        let elapsed = if self.frozen {
            0
        } else {
            self.started.elapsed().as_millis() as Millis
        };
        self.start_ms + elapsed + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Whole Unix seconds, the unit most vendor payloads use.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    pub fn offset_ms(&self) -> Millis {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Moves the clock forward; negative amounts are refused by the caller's validation, and
    /// clamped to zero here so the clock can never run backwards.
    pub fn advance(&self, by: Duration) -> Millis {
        let ms = by.as_millis().min(i64::MAX as u128 / 4) as Millis;
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
        self.now_ms()
    }

    /// Moves the clock forward to sandbox time `at`, if it is not there yet. Returns the time
    /// the clock then shows.
    pub fn advance_to(&self, at: Millis) -> Millis {
        let now = self.now_ms();
        if at > now {
            self.offset_ms.fetch_add(at - now, Ordering::SeqCst);
            self.epoch.send_modify(|e| *e += 1);
        }
        self.now_ms()
    }

    /// Drops every advance made so far (used by `POST /__sandbox/reset`).
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
    }

    /// Puts back the time of a saved state: a running clock takes the saved offset (it shows
    /// real time plus what was advanced before), a frozen one stands at the saved time.
    /// This alone may move the clock backwards: a restored state replaces the present one.
    pub fn restore(&self, saved_now: Millis, saved_offset: Millis) {
        let offset = if self.frozen {
            saved_now - self.start_ms
        } else {
            saved_offset
        };
        self.offset_ms.store(offset, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
    }

    /// A receiver that changes whenever the clock jumps.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    /// How long to really wait until sandbox time `due` (zero if it has passed). In frozen mode
    /// the wait is unbounded: only an advance can bring `due` closer.
    pub fn real_wait_until(&self, due: Millis) -> Option<Duration> {
        let now = self.now_ms();
        if due <= now {
            return Some(Duration::ZERO);
        }
        if self.frozen {
            None
        } else {
            Some(Duration::from_millis(u64::try_from(due - now).unwrap_or(0)))
        }
    }
}

/// RFC 3339 in UTC with whole seconds, as Qonto and the admin API print times.
pub(crate) fn rfc3339(ms: Millis) -> String {
    const FORMAT: &[time::format_description::FormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_string())
}

/// Parses a start time given as Unix seconds or RFC 3339.
pub fn parse_instant(text: &str) -> Option<Millis> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// Parses a human duration: `90` (seconds), `90s`, `15m`, `2h`, `1d`, `500ms`, `1.5s`, or
/// several at once like `1h30m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    const PARSER: fundu::DurationParser<'static> = fundu::DurationParser::builder()
        .time_units(&[
            fundu::TimeUnit::MilliSecond,
            fundu::TimeUnit::Second,
            fundu::TimeUnit::Minute,
            fundu::TimeUnit::Hour,
            fundu::TimeUnit::Day,
        ])
        .parse_multiple(None)
        .disable_exponent()
        .disable_infinity()
        .build();
    let text = text.trim();
    if text.is_empty() || text.contains(char::is_whitespace) {
        return None;
    }
    PARSER.parse(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let clock = Clock::new(Some(1_700_000_000_000), true);
        assert_eq!(clock.now_ms(), 1_700_000_000_000);
        clock.advance(Duration::from_secs(900));
        assert_eq!(clock.now_secs(), 1_700_000_900);
        clock.reset();
        assert_eq!(clock.now_ms(), 1_700_000_000_000);
        assert_eq!(clock.advance_to(1_700_000_005_000), 1_700_000_005_000);
        assert_eq!(clock.advance_to(1_600_000_000_000), 1_700_000_005_000);
    }

    #[test]
    fn advancing_wakes_subscribers() {
        let clock = Clock::new(None, false);
        let mut rx = clock.subscribe();
        rx.mark_unchanged();
        clock.advance(Duration::from_secs(1));
        assert!(rx.has_changed().unwrap());
    }

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("-5s"), None);
        assert_eq!(parse_duration("5 m"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn instants_parse_as_seconds_or_rfc3339() {
        assert_eq!(parse_instant("1700000000"), Some(1_700_000_000_000));
        assert_eq!(
            parse_instant("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799_000), "2099-12-31T23:59:59Z");
        for secs in (0..4_102_444_800i64).step_by(9_999_991) {
            let ours = rfc3339(secs * 1000);
            let theirs = time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            assert_eq!(ours, theirs, "{secs}");
        }
        assert_eq!(parse_instant("yesterday"), None);
    }
}

/// A duration written in configuration and admin requests as `"1.5s"`, `"200ms"`, `"15m"` or a
/// number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span(pub Duration);

impl Span {
    pub fn as_ms(self) -> Millis {
        self.0.as_millis().min(i64::MAX as u128) as Millis
    }
}

impl serde::Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            s.serialize_str(&format!("{}s", ms / 1000))
        } else {
            s.serialize_str(&format!("{ms}ms"))
        }
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(u64),
            Float(f64),
        }
        let parsed = match Raw::deserialize(d)? {
            Raw::Text(t) => parse_duration(&t),
            Raw::Int(n) => Some(Duration::from_secs(n)),
            Raw::Float(f) if f.is_finite() && f >= 0.0 => Some(Duration::from_secs_f64(f)),
            Raw::Float(_) => None,
        };
        parsed.map(Span).ok_or_else(|| {
            serde::de::Error::custom(
                "expected a duration such as \"1.5s\", \"200ms\", \"15m\" or a number of seconds",
            )
        })
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn spans_read_text_and_numbers_and_print_back() {
        let v: Vec<Span> = serde_json::from_str(r#"["200ms", 2, 1.5, "1m"]"#).unwrap();
        assert_eq!(v[0].as_ms(), 200);
        assert_eq!(v[1].as_ms(), 2000);
        assert_eq!(v[2].as_ms(), 1500);
        assert_eq!(v[3].as_ms(), 60_000);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"["200ms","2s","1500ms","60s"]"#
        );
        assert!(serde_json::from_str::<Span>(r#""soon""#).is_err());
        assert!(serde_json::from_str::<Span>("-1").is_err());
    }
}
