//! Chainweb version codes and the names the node's JSON uses for them.
//!
//! The code is a u32 (`Chainweb.Version`'s `ChainwebVersionCode`); it enters the block header
//! log and the genesis parent hash. Test versions use codes with the top bit set
//! (`0x80000000 | n`), which JSON here writes as `"0x8000000e"`.

use crate::Error;

/// `mainnet01`.
pub const MAINNET01: u32 = 0x0000_0005;
/// `testnet04`.
pub const TESTNET04: u32 = 0x0000_0007;
/// `development` (also `recap-development`, the same code).
pub const DEVELOPMENT: u32 = 0x0000_0001;

/// The known names and their codes, the preferred name first for each code.
const NAMES: [(&str, u32); 4] = [
    ("mainnet01", MAINNET01),
    ("testnet04", TESTNET04),
    ("development", DEVELOPMENT),
    ("recap-development", DEVELOPMENT),
];

/// The code of a version name (`"mainnet01"` → 5) or of a hex code (`"0x8000000e"`).
/// Anything else is [`Error::Invalid`].
pub fn code_from_name(name: &str) -> Result<u32, Error> {
    if let Some((_, code)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*code);
    }
    name.strip_prefix("0x")
        .or_else(|| name.strip_prefix("0X"))
        .filter(|h| !h.is_empty() && h.len() <= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "unknown chainweb version {name:?} (expected mainnet01, testnet04, development or a hex code like 0x8000000e)"
            ))
        })
}

/// The name of a version code, or its hex form `"0x%08x"` when it has no name.
pub fn name_of_code(code: u32) -> String {
    NAMES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| (*n).to_owned())
        .unwrap_or_else(|| format!("{code:#010x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_hex_codes_map_to_codes_and_back() {
        assert_eq!(code_from_name("mainnet01"), Ok(5));
        assert_eq!(code_from_name("testnet04"), Ok(7));
        assert_eq!(code_from_name("development"), Ok(1));
        assert_eq!(code_from_name("0x8000000e"), Ok(0x8000_000e));
        assert_eq!(name_of_code(0x8000_000e), "0x8000000e");
        assert_eq!(name_of_code(5), "mainnet01");
        for bad in ["", "0x", "0x123456789", "mainnet", "0xzz", "0x+1"] {
            assert!(code_from_name(bad).is_err(), "{bad:?}");
        }
    }
}
