//! A `/pact/spv` response of any bytes: decoding never panics, and whatever decodes
//! re-encodes to a response that decodes to the same proof.
#![no_main]
#![forbid(unsafe_code)]

use ancora_proof::spv::TransactionOutputProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(proof) = TransactionOutputProof::decode_response(text) {
        let _ = proof.run();
        let _ = proof.command_result();
        let again = TransactionOutputProof::decode_response(&proof.encode_response());
        assert_eq!(again.as_ref(), Ok(&proof));
    }
});
