//! The binary Merkle proof object: decoding never panics, and whatever decodes re-encodes
//! to the same bytes.
#![no_main]
#![forbid(unsafe_code)]

use ancora_proof::merkle::MerkleProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = MerkleProof::decode(data) {
        assert_eq!(proof.encode(), data);
    }
});
