//! Identifiers.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;
use uuid::Uuid;

/// A tenant's id (a UUID).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// A new random (time-ordered) id.
    pub fn new() -> Self {
        TenantId(Uuid::now_v7())
    }

    /// The 16 bytes bound into event leaves.
    pub fn bytes(&self) -> [u8; 16] {
        *self.0.as_bytes()
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TenantId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(TenantId)
    }
}

/// An event's id within its tenant: 1–256 bytes of UTF-8 without control characters and
/// without invisible formatting characters. Parsing is the only way to make one, so holding an
/// `EventId` means it is valid.
///
/// Refused characters (general categories `Cc`, `Cf`, `Zl`, `Zp`): the C0/C1 controls and NUL,
/// the zero-width characters (U+200B–U+200D, U+2060, U+FEFF), the direction marks and
/// overrides (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, U+061C), the soft hyphen, tag
/// characters and the line/paragraph separators. Such a character makes two ids look the same
/// to a person (or an id read backwards) while they differ in the proof; ids are refused, not
/// normalised, so the id a client sends is the id it gets back and the one the leaf binds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

/// Why a text is not an event id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventIdError {
    /// Empty or longer than [`EventId::MAX_BYTES`].
    #[error("must be 1 to {max} bytes, got {0}", max = EventId::MAX_BYTES)]
    Length(usize),
    /// Holds a control character.
    #[error("must not contain control characters")]
    Control,
    /// Holds an invisible formatting or direction character (zero-width space, bidi override…).
    #[error(
        "must not contain invisible or direction-changing characters (found U+{0:04X}): zero-width and bidi formatting characters are refused"
    )]
    Invisible(u32),
}

impl EventId {
    /// Longest event id, in bytes (as bound into the leaf).
    pub const MAX_BYTES: usize = 256;

    /// Parses `text` into an event id.
    pub fn parse(text: impl Into<String>) -> Result<Self, EventIdError> {
        let text = text.into();
        Self::check(&text)?;
        Ok(EventId(text))
    }

    /// [`EventId::parse`]'s checks, without taking the text.
    pub fn check(text: &str) -> Result<(), EventIdError> {
        if text.is_empty() || text.len() > Self::MAX_BYTES {
            return Err(EventIdError::Length(text.len()));
        }
        if text.is_ascii() {
            // No ASCII character is a format character or a line or paragraph separator:
            // only the controls need a look (the common case, without Unicode tables).
            return match text.bytes().any(|b| b.is_ascii_control()) {
                true => Err(EventIdError::Control),
                false => Ok(()),
            };
        }
        if text.chars().any(char::is_control) {
            return Err(EventIdError::Control);
        }
        if let Some(c) = text.chars().find(|c| is_invisible(*c)) {
            return Err(EventIdError::Invisible(u32::from(c)));
        }
        Ok(())
    }

    /// A fresh id for an event sent without one (a UUID v7).
    pub fn generate() -> Self {
        EventId(Uuid::now_v7().to_string())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for the characters [`EventId`] refuses besides controls: format characters (`Cf`:
/// zero-width, bidi marks and overrides, BOM, soft hyphen, tags) and the line and paragraph
/// separators (`Zl`, `Zp`).
fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::Control
    )
}

/// Ids that are UUIDs: parsed from text, shown as hyphenated lowercase.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

uuid_id!(
    /// A batch's id (a UUID v7).
    BatchId
);
uuid_id!(
    /// An anchor's id (a UUID v7).
    AnchorId
);

/// The digest of an event's content, `sha256:<hex>` or `sha512_256:<hex>`, as bound into its
/// leaf (the proof core's type, under the domain's name).
pub type Digest = ancora_proof::event::ContentDigest;

/// Deterministic routing: the Chainweb chain a tenant anchors on, `SHA-256(tenant id bytes)`
/// read as a big-endian u64, mod `chain_count`, unless the tenant has an explicit assignment.
pub fn chain_for_tenant(tenant: TenantId, explicit: Option<i32>, chain_count: u32) -> i32 {
    if let Some(c) = explicit {
        return c;
    }
    let h = sha2::Sha256::digest(tenant.bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(first) % u64::from(chain_count.max(1))) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse_only_when_valid() {
        assert_eq!(
            EventId::parse("inv/2026 #1").map(|i| i.to_string()),
            Ok("inv/2026 #1".into())
        );
        assert_eq!(EventId::parse(""), Err(EventIdError::Length(0)));
        assert_eq!(
            EventId::parse("x".repeat(257)),
            Err(EventIdError::Length(257))
        );
        assert_eq!(EventId::parse("a\nb"), Err(EventIdError::Control));
        assert!(EventId::parse(EventId::generate().into_string()).is_ok());
    }

    #[test]
    fn the_ascii_shortcut_refuses_exactly_what_the_unicode_checks_refuse() {
        for b in 0u8..=127 {
            let c = char::from(b);
            let unicode = c.is_control() || is_invisible(c);
            assert_eq!(b.is_ascii_control(), unicode, "{b:#04x}");
            let id = format!("a{c}b");
            assert_eq!(EventId::check(&id).is_err(), unicode, "{b:#04x}");
        }
    }

    #[test]
    fn event_ids_refuse_invisible_and_direction_changing_characters() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2060}',
            '\u{061C}',
            '\u{2028}',
            '\u{E0041}',
        ] {
            let id = format!("inv{c}1");
            assert_eq!(
                EventId::parse(id),
                Err(EventIdError::Invisible(u32::from(c))),
                "U+{:04X} accepted",
                u32::from(c)
            );
        }
        assert!(EventId::parse("facture-é-日本-🙂 #1").is_ok());
    }

    #[test]
    fn uuid_ids_round_trip_through_text_and_refuse_anything_else() {
        let b = BatchId(Uuid::now_v7());
        assert_eq!(b.to_string().parse::<BatchId>(), Ok(b));
        assert!("not-a-uuid".parse::<AnchorId>().is_err());
        let d: Digest = format!("sha256:{}", "ab".repeat(32))
            .parse()
            .expect("digest");
        assert_eq!(d.to_string(), format!("sha256:{}", "ab".repeat(32)));
    }

    #[test]
    fn routing_is_deterministic_and_in_range() {
        let t = TenantId(Uuid::from_u128(42));
        let c = chain_for_tenant(t, None, 20);
        assert_eq!(c, chain_for_tenant(t, None, 20));
        assert!((0..20).contains(&c));
        assert_eq!(chain_for_tenant(t, Some(7), 20), 7);
        let spread: std::collections::BTreeSet<i32> = (0..200u128)
            .map(|i| chain_for_tenant(TenantId(Uuid::from_u128(i)), None, 20))
            .collect();
        assert_eq!(spread.len(), 20, "200 tenants should reach all 20 chains");
    }
}
