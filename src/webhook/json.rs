//! JSON serialisation for webhook bodies.
//!
//! Meta signs webhook bodies after escaping every non-ASCII character as `\uXXXX` with lowercase
//! hex (UTF-16 code units, so characters above the BMP become surrogate pairs). Serialising the
//! same way, and signing exactly the bytes sent, lets both raw-body verifiers and verifiers that
//! re-escape a decoded body agree with the signature.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// Compact JSON with non-ASCII characters escaped as lowercase `\uXXXX`.
pub(crate) fn to_ascii_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiEscaping);
    // Invariant: the sandbox only serialises values with string keys, which always succeed.
    value.serialize(&mut ser).expect("webhook bodies serialise");
    out
}

/// Compact JSON as `serde_json` writes it (UTF-8, no extra escaping).
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Invariant: the sandbox only serialises values with string keys, which always succeed.
    serde_json::to_vec(value).expect("values with string keys serialise")
}

struct AsciiEscaping;

impl Formatter for AsciiEscaping {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Most fragments are plain ASCII: checked a word at a time, and copied in one go.
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_ascii_is_escaped_in_lowercase_with_surrogate_pairs() {
        let v: serde_json::Value = json!({"text": "äöå 😀 \"q\"\n", "ok": "plain/ascii"});
        let bytes = to_ascii_vec(&v);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            text,
            r#"{"text":"\u00e4\u00f6\u00e5 \ud83d\ude00 \"q\"\n","ok":"plain/ascii"}"#
        );
        assert!(bytes.is_ascii());
        let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, v);
    }
}
