//! Known answers: the real Pact hash/signature vector, the builder's JSON shape, and the
//! `sign` command-line function.

use ancora_chainweb::cli::sign_file_command;
use ancora_chainweb::command::verify_command;
use ancora_chainweb::{
    Cap, ChainId, Error, PactCommand, PactPayload, SecretKey, SignedCommand, Signer, hash_cmd,
    sign_cmd_string,
};
use serde_json::{Value, json};

use super::common::load;

fn vector() -> (Value, String, String) {
    let v = load("pact-command-hash-sig.json");
    let secret = v["keyPair"]["secretKey"].as_str().unwrap().to_owned();
    let public = v["keyPair"]["publicKey"].as_str().unwrap().to_owned();
    (v, secret, public)
}

#[test]
fn the_pact_vector_commands_hash_and_sign_to_the_recorded_values() {
    let (v, secret, public) = vector();
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for case in vectors {
        let cmd = case["cmd"].as_str().unwrap();
        assert_eq!(hash_cmd(cmd).to_string(), case["hash"].as_str().unwrap());
        let signed = sign_cmd_string(cmd, &secret).unwrap();
        assert_eq!(signed.hash, case["hash"].as_str().unwrap());
        assert_eq!(signed.cmd, cmd, "the exact bytes are kept");
        if let Some(sig) = case["sig"].as_str() {
            assert_eq!(signed.sigs[0].sig, sig);
        }
        let parsed = verify_command(&signed).unwrap();
        assert_eq!(parsed.signers[0].pub_key, public);
    }
    assert_eq!(
        SecretKey::from_hex(&secret).unwrap().public_key_hex(),
        public
    );
}

#[test]
fn the_signed_command_is_hash_sigs_cmd_in_that_order() {
    let (v, secret, _) = vector();
    let cmd = v["vectors"][0]["cmd"].as_str().unwrap();
    let json = sign_cmd_string(cmd, &secret).unwrap().to_json();
    assert!(
        json.starts_with(
            r#"{"hash":"pMohh9G2NT1jQn4byK1iwvoLopbnU86NeNPSUq8I0ik","sigs":[{"sig":"b2136d02"#
        ),
        "{json}"
    );
    let back: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["cmd"], cmd);
}

#[test]
fn the_builder_writes_the_fields_pact_reads_and_the_vector_parses_to_the_same_command() {
    let (v, _, public) = vector();
    let cmd = v["vectors"][0]["cmd"].as_str().unwrap();
    let code = "(define-keyset 'k (read-keyset \"accounts-admin-keyset\"))\n(module system 'k\n  (defun get-system-time ()\n    (time \"2017-10-31T12:00:00Z\")))\n(get-system-time)";
    let built = PactCommand::exec(code)
        .data(json!({ "accounts-admin-keyset": [public] }))
        .chain(ChainId(0))
        .gas_limit(0)
        .gas_price(0.0)
        .ttl(0)
        .creation_time(0)
        .nonce("\"step01\"")
        .signer(Signer::new(&public));
    let parsed: PactCommand = serde_json::from_str(cmd).unwrap();
    assert_eq!(parsed, built);
    let ours = built.cmd_string().unwrap();
    assert!(
        ours.starts_with(r#"{"networkId":null,"payload":{"exec":{"code":"#),
        "{ours}"
    );
    assert!(ours.contains(r#""meta":{"chainId":"0","sender":"","gasLimit":0,"gasPrice":0.0,"ttl":0,"creationTime":0},"nonce":"\"step01\""}"#), "{ours}");
}

#[test]
fn signers_with_caps_and_scheme_are_written_and_every_signer_needs_a_key() {
    let a = SecretKey::from_bytes(&[1; 32]);
    let b = SecretKey::from_bytes(&[2; 32]);
    let cmd = PactCommand::exec("\"hi\"")
        .network("testnet04")
        .signer(
            Signer::of(&a)
                .with_scheme("ED25519")
                .with_cap(Cap::new("coin.GAS", vec![])),
        )
        .signer(Signer::of(&b));
    let text = cmd.cmd_string().unwrap();
    assert!(
        text.contains(r#""scheme":"ED25519","clist":[{"name":"coin.GAS","args":[]}]"#),
        "{text}"
    );
    let signed = cmd.sign(&[&b, &a]).unwrap();
    assert_eq!(signed.sigs.len(), 2);
    verify_command(&signed).unwrap();
    assert!(matches!(cmd.sign(&[&a]), Err(Error::Command(_))));
    assert!(matches!(
        PactCommand::exec("1").gas_price(f64::NAN).cmd_string(),
        Err(Error::Command(_))
    ));
    assert!(matches!(cmd.payload, PactPayload::Exec(_)));
}

#[test]
fn a_node_rejects_tampered_hashes_signatures_and_missing_signatures() {
    let k = SecretKey::from_bytes(&[3; 32]);
    let good = PactCommand::exec("\"x\"")
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap();
    let mut bad_hash = good.clone();
    bad_hash.hash = hash_cmd("other").to_string();
    let mut bad_sig = good.clone();
    bad_sig.sigs[0].sig = format!("{}00", &bad_sig.sigs[0].sig[..126]);
    let mut no_sig = good.clone();
    no_sig.sigs.clear();
    let mut other_cmd = good.clone();
    other_cmd.cmd.push(' ');
    other_cmd.hash = hash_cmd(&other_cmd.cmd).to_string();
    for (what, c) in [
        ("hash", bad_hash),
        ("sig", bad_sig),
        ("count", no_sig),
        ("cmd", other_cmd),
    ] {
        let err = verify_command(&c).expect_err(what).to_string();
        assert!(
            err.starts_with("invalid command: Invalid transaction"),
            "{what}: {err}"
        );
    }
}

#[test]
fn sign_file_command_signs_the_exact_file_bytes_and_prints_one_line() {
    let (v, secret, _) = vector();
    let dir = std::env::temp_dir().join(format!("ancora-cw-sign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmd_path = dir.join("cmd.json");
    let key_path = dir.join("key");
    let cmd = v["vectors"][0]["cmd"].as_str().unwrap();
    std::fs::write(&cmd_path, cmd).unwrap();
    std::fs::write(&key_path, format!("\n  {secret}  \n")).unwrap();
    let out = sign_file_command(&cmd_path, &key_path).unwrap();
    assert!(!out.contains('\n'));
    let signed: SignedCommand = serde_json::from_str(&out).unwrap();
    assert_eq!(signed.hash, v["vectors"][0]["hash"].as_str().unwrap());
    assert_eq!(signed.sigs[0].sig, v["vectors"][0]["sig"].as_str().unwrap());

    // A trailing newline is part of the command: another hash.
    std::fs::write(&cmd_path, format!("{cmd}\n")).unwrap();
    let with_nl: SignedCommand =
        serde_json::from_str(&sign_file_command(&cmd_path, &key_path).unwrap()).unwrap();
    assert_ne!(with_nl.hash, signed.hash);

    // Errors: one line, never the secret.
    std::fs::write(&key_path, &secret[..60]).unwrap();
    let bad_key = sign_file_command(&cmd_path, &key_path)
        .unwrap_err()
        .to_string();
    std::fs::write(&cmd_path, "not json").unwrap();
    std::fs::write(&key_path, &secret).unwrap();
    let bad_cmd = sign_file_command(&cmd_path, &key_path)
        .unwrap_err()
        .to_string();
    let missing = sign_file_command(dir.join("nope"), &key_path)
        .unwrap_err()
        .to_string();
    std::fs::write(&cmd_path, [0xff, 0xfe]).unwrap();
    let not_utf8 = sign_file_command(&cmd_path, &key_path)
        .unwrap_err()
        .to_string();
    for e in [&bad_key, &bad_cmd, &missing, &not_utf8] {
        assert!(!e.contains('\n') && !e.contains(&secret[..60]), "{e}");
    }
    assert!(bad_key.contains("64 hex characters"), "{bad_key}");
    assert!(bad_cmd.contains("not a JSON object"), "{bad_cmd}");
    assert!(missing.contains("cannot read"), "{missing}");
    assert!(not_utf8.contains("not UTF-8"), "{not_utf8}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn keys_load_from_the_environment_and_debug_redacts() {
    let (_, secret, public) = vector();
    let var = "ANCORA_CHAINWEB_TEST_KEY_ENV";
    assert!(SecretKey::from_env(var).is_err());
    // set_var is unsafe in edition 2024 and the crate forbids unsafe: use a file-free
    // round trip through from_hex instead, which from_env calls.
    let k = SecretKey::from_hex(&format!(" {secret}\n")).unwrap();
    assert_eq!(k.public_key_hex(), public);
    assert!(!format!("{k:?}").contains(&secret));
}
