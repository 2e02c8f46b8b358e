//! Small formatting helpers shared by the pages (text only; askama does the escaping).

use base64::Engine as _;
use time::OffsetDateTime;
use time::macros::format_description;

/// `2026-01-01 12:00:00 UTC`.
pub fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default()
}

/// An optional time, or an em dash.
pub fn ts_opt(t: Option<OffsetDateTime>) -> String {
    t.map(ts).unwrap_or_else(|| "—".to_owned())
}

/// `sha256:<hex>`.
pub fn digest(alg: &str, bytes: &[u8]) -> String {
    format!("{alg}:{}", hex::encode(bytes))
}

/// Base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A url-encoded query string from pairs (values are encoded; empty values are dropped).
pub fn qs(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// A path segment, percent-encoded (event ids may hold any character).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses what a person typed as a digest: 64 hex digits (optionally `sha256:` or
/// `sha512_256:` first), or 32 bytes in base64 or base64url. Returns the algorithm named, if
/// any, and the bytes; `None` when it is not a digest (then it is searched as an event id).
pub fn parse_digest(input: &str) -> Option<(Option<&'static str>, Vec<u8>)> {
    let s = input.trim();
    let (alg, rest) = if let Some(r) = s.strip_prefix("sha256:") {
        (Some("sha256"), r)
    } else if let Some(r) = s.strip_prefix("sha512_256:") {
        (Some("sha512_256"), r)
    } else {
        (None, s)
    };
    if rest.len() == 64
        && let Ok(b) = hex::decode(rest)
    {
        return Some((alg, b));
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|e| e.decode(rest).ok())
        .find(|b| b.len() == 32)
        .map(|b| (alg, b))
}

/// A CSV field: quoted when needed, and prefixed with `'` when a spreadsheet would read it as
/// a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_recognised_in_hex_base64_and_base64url() {
        let bytes = [0xfbu8; 32];
        let hexed = hex::encode(bytes);
        assert_eq!(parse_digest(&hexed), Some((None, bytes.to_vec())));
        assert_eq!(
            parse_digest(&format!("sha256:{hexed}")),
            Some((Some("sha256"), bytes.to_vec()))
        );
        assert_eq!(parse_digest(&b64url(&bytes)), Some((None, bytes.to_vec())));
        let std = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(parse_digest(&std), Some((None, bytes.to_vec())));
        assert_eq!(parse_digest("inv-2026-0001"), None);
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("plain"), "plain");
    }
}
