//! Proof bundles, event leaves and signed checkpoints: decoding arbitrary bytes never panics,
//! a bundle that parses re-serializes and parses to the same value, and verifying any parsed
//! bundle (with no trust given) returns a report instead of panicking.
#![no_main]
#![forbid(unsafe_code)]

use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use ancora_proof::event::EventLeaf;
use ancora_proof::tlog::checkpoint::parse_checkpoint_unverified;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = Bundle::from_json(data) {
        let again = Bundle::from_json(bundle.to_json_pretty().as_bytes())
            .expect("a parsed bundle re-parses");
        assert_eq!(again, bundle);
        let report = verify_bundle(&bundle, &Trust::default());
        assert!(!report.steps.is_empty());
    }
    if let Ok(leaf) = EventLeaf::decode(data) {
        assert_eq!(leaf.encode().expect("a decoded leaf encodes"), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_checkpoint_unverified(text);
    }
});
