//! Block headers, binary and JSON: decoding never panics, and a binary header that decodes
//! re-encodes to the same bytes.
#![no_main]
#![forbid(unsafe_code)]

use ancora_proof::chainweb::BlockHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = BlockHeader::decode(data) {
        let _ = header.check_hash();
        assert_eq!(header.encode(), data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(header) = BlockHeader::from_json(text)
    {
        let _ = header.compute_hash();
        assert_eq!(BlockHeader::from_json(&header.to_json()), Ok(header));
    }
});
