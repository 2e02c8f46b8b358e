//! The transparency log: proofs through the node fetch function, checkpoints, signed notes.

use ancora_proof::Error;
use ancora_proof::hash::{Hash, HashAlgorithm};
use ancora_proof::merkle::{Leaf, MerkleTree, empty_root};
use ancora_proof::tlog::{
    self, Checkpoint, LogSigner, MemoryLog, TLOG_ALG, open_checkpoint, open_checkpoint_for_origin,
    parse_verifier_key, sign_checkpoint,
};

const ORIGIN: &str = "log.ancora.test/v1";

/// Leaf `i` of the test logs: an anchor root, entering as a tree leaf.
fn anchor(i: u64) -> Hash {
    HashAlgorithm::Sha512_256.digest(&[b"anchor", &i.to_be_bytes()])
}

fn log_of(n: u64) -> MemoryLog {
    let mut log = MemoryLog::new();
    for i in 0..n {
        assert_eq!(log.append(anchor(i)).expect("append"), i);
    }
    log
}

fn tree_of(n: u64) -> MerkleTree {
    let leaves: Vec<Leaf<'_>> = (0..n).map(|i| Leaf::Tree(anchor(i))).collect();
    MerkleTree::build(TLOG_ALG, &leaves)
}

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [7; 32]).expect("valid name")
}

#[test]
fn appending_through_the_node_function_gives_the_merkle_tree_roots() {
    let log = log_of(300);
    for n in 0..=300 {
        assert_eq!(log.root_at(n).expect("root"), tree_of(n).root(), "size {n}");
    }
    assert_eq!(log.root_at(0).expect("root"), empty_root(TLOG_ALG));
}

#[test]
fn append_returns_the_leaf_and_every_node_it_completes() {
    let log = log_of(7);
    let nodes = tlog::append(7, anchor(7), |l, i| log.node(l, i)).expect("append");
    let levels: Vec<(u8, u64)> = nodes.iter().map(|(l, i, _)| (*l, *i)).collect();
    assert_eq!(levels, vec![(0, 7), (1, 3), (2, 1), (3, 0)]);
    assert_eq!(nodes[3].2, tree_of(8).root());
}

#[test]
fn every_leaf_of_every_log_up_to_300_leaves_has_a_verifying_inclusion_proof() {
    let log = log_of(300);
    for size in 1..=300u64 {
        let tree = tree_of(size);
        let root = log.root_at(size).expect("root");
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).expect("proof");
            assert_eq!(
                proof,
                tree.proof(index as usize).expect("tree proof"),
                "size {size} index {index}"
            );
            tlog::verify_inclusion(index, size, anchor(index), &proof, &root)
                .expect("inclusion verifies");
        }
    }
}

#[test]
fn an_inclusion_proof_for_another_index_or_size_is_rejected() {
    let log = log_of(13);
    let root = log.root().expect("root");
    let proof = log.inclusion_proof(5, 13).expect("proof");
    assert!(tlog::verify_inclusion(4, 13, anchor(5), &proof, &root).is_err());
    assert!(tlog::verify_inclusion(5, 8, anchor(5), &proof, &root).is_err());
    assert!(tlog::verify_inclusion(5, 13, anchor(4), &proof, &root).is_err());
    assert!(tlog::verify_inclusion(13, 13, anchor(5), &proof, &root).is_err());
    assert!(log.inclusion_proof(13, 13).is_err());
    assert!(log.inclusion_proof(0, 14).is_err());
}

#[test]
fn consistency_proofs_verify_for_every_pair_of_sizes_up_to_64() {
    let log = log_of(64);
    for n in 0..=64u64 {
        let new_root = log.root_at(n).expect("root");
        for m in 0..=n {
            let old_root = log.root_at(m).expect("root");
            let proof = log.consistency_proof(m, n).expect("proof");
            if m == 0 || m == n {
                assert!(proof.is_empty(), "m = {m}, n = {n}");
            }
            tlog::verify_consistency(m, n, &old_root, &new_root, &proof)
                .unwrap_or_else(|e| panic!("m = {m}, n = {n}: {e}"));
        }
    }
}

#[test]
fn consistency_proofs_fail_for_a_tampered_root_or_proof() {
    let log = log_of(64);
    let flip = |h: &Hash| {
        let mut h = *h;
        h.0[0] ^= 1;
        h
    };
    for n in 1..=64u64 {
        let new_root = log.root_at(n).expect("root");
        for m in 1..n {
            let old_root = log.root_at(m).expect("root");
            let proof = log.consistency_proof(m, n).expect("proof");
            let ctx = format!("m = {m}, n = {n}");
            assert!(
                tlog::verify_consistency(m, n, &flip(&old_root), &new_root, &proof).is_err(),
                "{ctx}"
            );
            assert!(
                tlog::verify_consistency(m, n, &old_root, &flip(&new_root), &proof).is_err(),
                "{ctx}"
            );
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i]);
                assert!(
                    tlog::verify_consistency(m, n, &old_root, &new_root, &bad).is_err(),
                    "{ctx} hash {i}"
                );
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            assert!(
                tlog::verify_consistency(m, n, &old_root, &new_root, &longer).is_err(),
                "{ctx}"
            );
            assert!(
                tlog::verify_consistency(m, n, &old_root, &new_root, &proof[..proof.len() - 1])
                    .is_err(),
                "{ctx}"
            );
            assert!(
                tlog::verify_consistency(m, n, &old_root, &new_root, &[]).is_err(),
                "{ctx}"
            );
        }
    }
}

#[test]
fn the_empty_log_is_consistent_with_every_log_and_a_shrinking_log_is_not() {
    let log = log_of(10);
    let empty = empty_root(TLOG_ALG);
    let root = log.root().expect("root");
    tlog::verify_consistency(0, 10, &empty, &root, &[]).expect("empty is a prefix");
    assert!(tlog::verify_consistency(0, 10, &root, &root, &[]).is_err());
    assert!(tlog::verify_consistency(0, 10, &empty, &root, &[root]).is_err());
    assert!(log.consistency_proof(5, 4).is_err());
    assert!(tlog::verify_consistency(5, 4, &root, &root, &[]).is_err());
    let other = log_of(3).root().expect("root");
    assert!(tlog::verify_consistency(10, 10, &root, &other, &[]).is_err());
}

#[test]
fn a_storage_error_from_the_fetch_function_is_returned_as_is() {
    #[derive(Debug, PartialEq)]
    enum Db {
        Down,
        Proof(Error),
    }
    impl From<Error> for Db {
        fn from(e: Error) -> Self {
            Db::Proof(e)
        }
    }
    let down = |_: u8, _: u64| -> Result<Hash, Db> { Err(Db::Down) };
    assert_eq!(tlog::root(5, down), Err(Db::Down));
    assert_eq!(tlog::inclusion_proof(1, 5, down).map(|_| ()), Err(Db::Down));
    assert!(matches!(
        tlog::inclusion_proof(5, 5, down),
        Err(Db::Proof(_))
    ));
    assert!(matches!(tlog::root(u64::MAX, down), Err(Db::Proof(_))));
}

#[test]
fn a_signed_checkpoint_opens_with_its_key() {
    let log = log_of(42);
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 42,
        root: log.root().expect("root"),
    };
    let text = sign_checkpoint(&signer(), &cp).expect("signs");
    assert!(text.starts_with(&format!("{ORIGIN}\n42\n")));
    assert!(text.contains("\n\n\u{2014} log.ancora.test/v1 "));
    let key = parse_verifier_key(&format!("  {}\n", signer().verifier().to_key_text()))
        .expect("key parses with surrounding white space");
    assert_eq!(open_checkpoint(&text, &key).expect("opens"), cp);
    assert_eq!(
        LogSigner::from_key_text(&signer().to_key_text())
            .expect("signer key parses")
            .verifier(),
        key
    );
}

#[test]
fn the_key_texts_follow_the_signed_note_format() {
    let v = signer().verifier().to_key_text();
    let parts: Vec<&str> = v.split('+').collect();
    assert_eq!(parts[0], ORIGIN);
    assert_eq!(parts[1].len(), 8);
    assert!(
        signer()
            .to_key_text()
            .starts_with(&format!("PRIVATE+KEY+{ORIGIN}+{}+", parts[1]))
    );
    assert!(format!("{:?}", signer()).contains("redacted"));
    // A key with the hash of another name is rejected.
    let forged = v.replacen(ORIGIN, "other.log", 1);
    assert!(parse_verifier_key(&forged).is_err());
    assert!(parse_verifier_key("nonsense").is_err());
    assert!(LogSigner::from_seed("bad name", [1; 32]).is_err());
    assert!(LogSigner::from_seed("bad+name", [1; 32]).is_err());
}

#[test]
fn a_checkpoint_signed_by_another_key_or_for_another_origin_is_rejected() {
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 1,
        root: anchor(0),
    };
    let text = sign_checkpoint(&signer(), &cp).expect("signs");
    let other = LogSigner::from_seed(ORIGIN, [8; 32])
        .expect("signer")
        .verifier();
    assert!(matches!(
        open_checkpoint(&text, &other),
        Err(Error::UnknownKey { .. })
    ));
    assert!(matches!(
        open_checkpoint_for_origin(&text, &signer().verifier(), "another/log"),
        Err(Error::OriginMismatch { .. })
    ));
}

#[test]
fn flipping_any_byte_of_the_body_or_the_signature_is_caught() {
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 1234,
        root: anchor(9),
    };
    let text = sign_checkpoint(&signer(), &cp).expect("signs");
    let key = signer().verifier();
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x20] {
            let mut b = bytes.to_vec();
            b[i] ^= bit;
            let Ok(s) = String::from_utf8(b) else {
                continue;
            };
            if let Ok(opened) = open_checkpoint(&s, &key) {
                panic!("byte {i} bit {bit:#x} flipped and still opened: {opened:?}");
            }
        }
    }
}

#[test]
fn malformed_checkpoints_say_why() {
    let key = signer().verifier();
    let s = signer();
    for body in [
        "log.ancora.test/v1\n01\nAAAA\n",
        "log.ancora.test/v1\nx\n",
        "log.ancora.test/v1\n3\n",
    ] {
        let note = s.sign_note(body).expect("signs");
        assert!(
            matches!(open_checkpoint(&note, &key), Err(Error::MalformedNote(_))),
            "{body:?}"
        );
    }
    assert!(matches!(
        open_checkpoint("no signature", &key),
        Err(Error::MalformedNote(_))
    ));
    assert!(s.sign_note("two\n\nparagraphs\n").is_err());
    assert!(s.sign_note("no newline").is_err());
    // Extension lines are allowed.
    let ext = format!("{ORIGIN}\n2\n{}\nextension\n", base64_std(&anchor(1)));
    let note = s.sign_note(&ext).expect("signs");
    assert_eq!(open_checkpoint(&note, &key).expect("opens").size, 2);
}

fn base64_std(h: &Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(h.0)
}
