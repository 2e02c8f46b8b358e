//! New-format payload proofs (`/pact/spv2`): decoding never panics, and whatever decodes
//! survives its own JSON.
#![no_main]
#![forbid(unsafe_code)]

use ancora_proof::spv::PayloadProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(proof) = PayloadProof::from_json(text) {
        let _ = proof.run();
        assert_eq!(
            PayloadProof::from_json_value(&proof.to_json_value()),
            Ok(proof)
        );
    }
});
