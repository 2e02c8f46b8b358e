//! Properties of the Merkle core, checked on random inputs, and decoders fed garbage.

use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use ancora_proof::event::EventLeaf;
use ancora_proof::hash::{Hash, HashAlgorithm};
use ancora_proof::merkle::{Leaf, MerkleProof, MerkleTree, leaf_hash, node_hash, root_of};
use ancora_proof::tlog::{self, MemoryLog, open_checkpoint, parse_verifier_key};
use proptest::prelude::*;

const A: HashAlgorithm = HashAlgorithm::Sha512_256;

/// RFC 6962 §2.1 `MTH`, written from the RFC and nothing else: recursive, split at the largest
/// power of two strictly below `n`.
fn rfc_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => A.digest(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(A, &rfc_mth(&leaves[..k]), &rfc_mth(&leaves[k..]))
        }
    }
}

fn data(n: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{seed}:{i}").into_bytes()).collect()
}

fn verifies(proof_bytes: &[u8], leaf: &[u8], root: &Hash, index: usize) -> bool {
    MerkleProof::decode(proof_bytes)
        .is_ok_and(|p| p.position == index as u64 && p.verify(A, Leaf::Input(leaf), root))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_leaf_proof_verifies_and_its_object_round_trips(n in 1usize..3000, seed: u64) {
        let d = data(n, seed);
        let leaves: Vec<Leaf<'_>> = d.iter().map(|x| Leaf::Input(x)).collect();
        let tree = MerkleTree::build(A, &leaves);
        let root = tree.root();
        for (i, l) in leaves.iter().enumerate() {
            let p = tree.proof(i).expect("in range");
            prop_assert!(p.verify(A, *l, &root));
            prop_assert_eq!(MerkleProof::decode(&p.encode()).expect("decodes"), p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn flipping_any_bit_of_leaf_proof_or_root_breaks_verification(
        n in 1usize..600, seed: u64, pick: prop::sample::Index, bit: prop::sample::Index,
    ) {
        let d = data(n, seed);
        let leaves: Vec<Leaf<'_>> = d.iter().map(|x| Leaf::Input(x)).collect();
        let tree = MerkleTree::build(A, &leaves);
        let i = pick.index(n);
        let root = tree.root();
        let proof = tree.proof(i).expect("in range").encode();
        prop_assert!(verifies(&proof, &d[i], &root, i));

        let mut leaf = d[i].clone();
        let b = bit.index(leaf.len() * 8);
        leaf[b / 8] ^= 1 << (b % 8);
        prop_assert!(!verifies(&proof, &leaf, &root, i));

        let mut p = proof.clone();
        let b = bit.index(p.len() * 8);
        p[b / 8] ^= 1 << (b % 8);
        prop_assert!(!verifies(&p, &d[i], &root, i), "proof bit {b}");

        let mut r = root;
        let b = bit.index(256);
        r.0[b / 8] ^= 1 << (b % 8);
        prop_assert!(!verifies(&proof, &d[i], &r, i));
    }

    #[test]
    fn the_recursive_rfc_mth_agrees_with_the_tree_the_stack_and_the_log(n in 0usize..700, seed: u64) {
        let d = data(n, seed);
        let hashes: Vec<Hash> = d.iter().map(|x| leaf_hash(A, x)).collect();
        let expected = rfc_mth(&hashes);
        prop_assert_eq!(MerkleTree::from_leaf_hashes(A, hashes.clone()).root(), expected);
        prop_assert_eq!(root_of(A, hashes.iter().copied()), expected);
        let mut log = MemoryLog::new();
        for h in &hashes {
            log.append(*h).expect("append");
        }
        prop_assert_eq!(log.root().expect("root"), expected);
    }

    #[test]
    fn random_consistency_proofs_verify(n in 1u64..2000, m_pick: prop::sample::Index, seed: u64) {
        let mut log = MemoryLog::new();
        for i in 0..n {
            log.append(A.digest(&[&seed.to_be_bytes(), &i.to_be_bytes()])).expect("append");
        }
        let m = m_pick.index(n as usize + 1) as u64;
        let proof = log.consistency_proof(m, n).expect("proof");
        let (old, new) = (log.root_at(m).expect("root"), log.root().expect("root"));
        prop_assert!(tlog::verify_consistency(m, n, &old, &new, &proof).is_ok());
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = MerkleProof::decode(&bytes);
        let _ = EventLeaf::decode(&bytes);
        if let Ok(b) = Bundle::from_json(&bytes) {
            let _ = verify_bundle(&b, &Trust::default());
        }
        let text = String::from_utf8_lossy(&bytes);
        let key = crate::bundle::signer().verifier();
        let _ = open_checkpoint(&text, &key);
        let _ = parse_verifier_key(&text);
        let _ = ancora_proof::spv::TransactionOutputProof::decode_response(&text);
    }

    #[test]
    fn a_proof_object_with_a_random_tail_never_panics(count: u32, tail in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = count.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&tail);
        let _ = MerkleProof::decode(&bytes);
    }

    #[test]
    fn a_corrupted_bundle_or_checkpoint_never_panics_and_never_verifies(
        at: prop::sample::Index, byte: u8,
    ) {
        let good = crate::bundle::good_bundle();
        let mut text = good.to_json_pretty().into_bytes();
        let i = at.index(text.len());
        prop_assume!(text[i] != byte);
        text[i] = byte;
        let trust = Trust { log_keys: vec![crate::bundle::signer().verifier()], chainweb_headers: vec![] };
        if let Ok(b) = Bundle::from_json(&text) {
            let report = verify_bundle(&b, &trust);
            // Some bytes are not covered by any proof: JSON white space, the informational
            // batch and anchor ids. Anything else must fail.
            if b.batch.batch_id == good.batch.batch_id && b.anchor.anchor_id == good.anchor.anchor_id && b != good {
                prop_assert!(!report.is_verified(), "byte {i} set to {byte}: {}", report.to_json_pretty());
            }
        }
        let checkpoint = match good.trust_points.first() {
            Some(ancora_proof::bundle::TrustPoint::Tlog(t)) => t.checkpoint.clone(),
            _ => String::new(),
        };
        let mut cp = checkpoint.clone().into_bytes();
        let j = at.index(cp.len());
        cp[j] = byte;
        if let Ok(s) = String::from_utf8(cp)
            && s != checkpoint
        {
            prop_assert!(open_checkpoint(&s, &crate::bundle::signer().verifier()).is_err());
        }
    }
}
