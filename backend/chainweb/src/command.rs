//! Pact commands, built and signed in Rust.
//!
//! A signed Pact `Command` is `{"hash", "sigs": [{"sig"}], "cmd"}` where `cmd` is a *string*
//! holding the JSON payload (`networkId`, `payload.exec|cont`, `signers`, `meta`, `nonce`).
//! The hash is `base64url_nopad(BLAKE2b-256(cmd bytes))` and is also the request key; each
//! signature is Ed25519 over the 32 raw hash bytes, hex-encoded, in signer order (Pact's
//! `verifyCommand`, spec §3.2). Nodes hash the exact bytes they receive and never
//! re-serialize, so everything here works on the exact string: [`PactCommand::cmd_string`]
//! writes it once, [`SignedCommand::sign`] and [`sign_cmd_string`] sign whatever string they
//! are given.

use blake2::{Blake2b, Digest as _, digest::consts::U32};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{ChainId, RequestKey};
use crate::{Error, SecretKey};

/// The JSON payload of a Pact command (the text of `cmd`), fields in Pact's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PactCommand {
    /// `"mainnet01"`, `"testnet04"`, … (`null` for a local REPL).
    pub network_id: Option<String>,
    /// What to run.
    pub payload: PactPayload,
    /// Who signs, in the order of the signatures.
    pub signers: Vec<Signer>,
    /// Chain, gas, TTL and creation time.
    pub meta: Meta,
    /// Any string; makes otherwise equal commands distinct.
    pub nonce: String,
}

/// `{"exec": …}` or `{"cont": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PactPayload {
    /// Run Pact code.
    Exec(ExecPayload),
    /// Continue a defpact (for example a cross-chain transfer with an SPV proof).
    Cont(ContPayload),
}

/// An `exec` payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecPayload {
    /// The Pact code.
    pub code: String,
    /// The message data (`read-msg`, `read-keyset`); an object, usually.
    pub data: Value,
}

/// A `cont` payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContPayload {
    /// The pact id (the request key of the defpact's first step).
    pub pact_id: String,
    /// The step to run.
    pub step: u32,
    /// Roll back instead of continuing.
    pub rollback: bool,
    /// Message data.
    pub data: Value,
    /// The `/pact/spv` proof string for a cross-chain step.
    pub proof: Option<String>,
}

/// A signer: a public key, optionally scoped to capabilities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    /// 64 lowercase hex characters.
    pub pub_key: String,
    /// `"ED25519"` (the default when absent) or `"WebAuthn"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The address, when it differs from the public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// The capabilities this signature is scoped to; absent means unrestricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clist: Option<Vec<Cap>>,
}

impl Signer {
    /// An unrestricted ED25519 signer (no `scheme` field written, as Kadena's tools do).
    pub fn new(pub_key: impl Into<String>) -> Self {
        Signer {
            pub_key: pub_key.into(),
            scheme: None,
            addr: None,
            clist: None,
        }
    }

    /// The signer of `key`.
    pub fn of(key: &SecretKey) -> Self {
        Self::new(key.public_key_hex())
    }

    /// Writes `"scheme": "ED25519"` explicitly.
    pub fn with_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = Some(scheme.into());
        self
    }

    /// Scopes the signature to one more capability.
    pub fn with_cap(mut self, cap: Cap) -> Self {
        self.clist.get_or_insert_with(Vec::new).push(cap);
        self
    }
}

/// A capability in a signer's `clist`: `{"name": "coin.GAS", "args": []}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cap {
    /// The qualified name.
    pub name: String,
    /// The arguments.
    pub args: Vec<Value>,
}

impl Cap {
    /// A capability with its arguments.
    pub fn new(name: impl Into<String>, args: Vec<Value>) -> Self {
        Cap {
            name: name.into(),
            args,
        }
    }
}

/// Public metadata: where the command runs and what it may spend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The chain id as a string (`"0"`).
    pub chain_id: String,
    /// The gas payer's account.
    pub sender: String,
    /// Maximum gas units.
    pub gas_limit: u64,
    /// KDA per gas unit.
    pub gas_price: f64,
    /// Seconds after `creation_time` during which the command may be mined.
    pub ttl: u64,
    /// Unix seconds.
    pub creation_time: u64,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            chain_id: "0".to_owned(),
            sender: String::new(),
            gas_limit: 1_000,
            gas_price: 1e-8,
            ttl: 600,
            creation_time: 0,
        }
    }
}

impl PactCommand {
    /// An `exec` command running `code` with empty data, no signers, chain 0, no network.
    pub fn exec(code: impl Into<String>) -> Self {
        Self::with_payload(PactPayload::Exec(ExecPayload {
            code: code.into(),
            data: Value::Object(serde_json::Map::new()),
        }))
    }

    /// A `cont` command.
    pub fn cont(cont: ContPayload) -> Self {
        Self::with_payload(PactPayload::Cont(cont))
    }

    fn with_payload(payload: PactPayload) -> Self {
        PactCommand {
            network_id: None,
            payload,
            signers: Vec::new(),
            meta: Meta::default(),
            nonce: String::new(),
        }
    }

    /// Sets the network id.
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network_id = Some(network.into());
        self
    }

    /// Sets the message data (of the `exec` or `cont` payload).
    pub fn data(mut self, data: Value) -> Self {
        match &mut self.payload {
            PactPayload::Exec(e) => e.data = data,
            PactPayload::Cont(c) => c.data = data,
        }
        self
    }

    /// Sets the chain.
    pub fn chain(mut self, chain: ChainId) -> Self {
        self.meta.chain_id = chain.to_string();
        self
    }

    /// Sets the gas payer.
    pub fn sender(mut self, sender: impl Into<String>) -> Self {
        self.meta.sender = sender.into();
        self
    }

    /// Sets the gas limit.
    pub fn gas_limit(mut self, gas_limit: u64) -> Self {
        self.meta.gas_limit = gas_limit;
        self
    }

    /// Sets the gas price.
    pub fn gas_price(mut self, gas_price: f64) -> Self {
        self.meta.gas_price = gas_price;
        self
    }

    /// Sets the TTL in seconds.
    pub fn ttl(mut self, ttl: u64) -> Self {
        self.meta.ttl = ttl;
        self
    }

    /// Sets the creation time in Unix seconds.
    pub fn creation_time(mut self, unix_seconds: u64) -> Self {
        self.meta.creation_time = unix_seconds;
        self
    }

    /// Sets the nonce.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = nonce.into();
        self
    }

    /// Adds a signer.
    pub fn signer(mut self, signer: Signer) -> Self {
        self.signers.push(signer);
        self
    }

    /// The exact `cmd` string: compact JSON, fields in Pact's order. [`Error::Command`] for
    /// a gas price that is not a finite, non-negative number (JSON cannot carry it).
    pub fn cmd_string(&self) -> Result<String, Error> {
        if !(self.meta.gas_price.is_finite() && self.meta.gas_price >= 0.0) {
            return Err(Error::Command(format!(
                "gas price {} is not a finite, non-negative number",
                self.meta.gas_price
            )));
        }
        serde_json::to_string(self).map_err(|e| Error::Command(format!("cannot serialize: {e}")))
    }

    /// Writes the `cmd` string and signs it with the key of each signer, in signer order.
    /// [`Error::Command`] when a signer has no key among `keys`.
    pub fn sign(&self, keys: &[&SecretKey]) -> Result<SignedCommand, Error> {
        let ordered = self
            .signers
            .iter()
            .map(|s| {
                keys.iter()
                    .copied()
                    .find(|k| k.public_key_hex().eq_ignore_ascii_case(&s.pub_key))
                    .ok_or_else(|| {
                        Error::Command(format!("no secret key given for signer {}", s.pub_key))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedCommand::sign(self.cmd_string()?, &ordered))
    }
}

/// One signature: `{"sig": hex}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sig {
    /// 128 lowercase hex characters.
    pub sig: String,
}

/// A signed Pact command as `/send` takes it: `{"hash", "sigs", "cmd"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCommand {
    /// `base64url_nopad(BLAKE2b-256(cmd))`, the request key.
    pub hash: String,
    /// One per signer, in signer order.
    pub sigs: Vec<Sig>,
    /// The exact payload string that was hashed.
    pub cmd: String,
}

impl SignedCommand {
    /// Hashes `cmd` exactly as given and signs the hash with each key in order.
    pub fn sign(cmd: String, keys: &[&SecretKey]) -> Self {
        let hash = hash_cmd(&cmd);
        SignedCommand {
            hash: hash.to_string(),
            sigs: keys
                .iter()
                .map(|k| Sig {
                    sig: k.sign_hex(hash.as_bytes()),
                })
                .collect(),
            cmd,
        }
    }

    /// The request key (the hash of `cmd`, recomputed: a tampered `hash` field is ignored).
    pub fn request_key(&self) -> RequestKey {
        hash_cmd(&self.cmd)
    }

    /// Compact JSON, `{"hash","sigs","cmd"}` in that order.
    pub fn to_json(&self) -> String {
        // A struct of strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The request key of a `cmd` string: BLAKE2b-256 of its exact UTF-8 bytes.
pub fn hash_cmd(cmd: &str) -> RequestKey {
    RequestKey(Blake2b::<U32>::digest(cmd.as_bytes()).into())
}

/// Signs the exact `cmd` string with one key given as 64 hex characters.
pub fn sign_cmd_string(cmd: &str, secret_hex: &str) -> Result<SignedCommand, Error> {
    let key = SecretKey::from_hex(secret_hex)?;
    Ok(SignedCommand::sign(cmd.to_owned(), &[&key]))
}

/// Checks a signed command as a node does before accepting it (Pact's `verifyCommand`):
/// the hash is the BLAKE2b-256 of `cmd`, `cmd` parses as a Pact payload, there is one
/// signature per signer, and each ED25519 signature verifies over the raw hash. Returns
/// the parsed payload; [`Error::Command`] says what failed, in words fit for an HTTP 400.
pub fn verify_command(signed: &SignedCommand) -> Result<PactCommand, Error> {
    let key = hash_cmd(&signed.cmd);
    if signed.hash != key.to_string() {
        return Err(Error::Command(format!(
            "Invalid transaction hash: the command hashes to {key}, not {}",
            signed.hash
        )));
    }
    let cmd: PactCommand = serde_json::from_str(&signed.cmd)
        .map_err(|e| Error::Command(format!("cmd is not a valid Pact payload: {e}")))?;
    if cmd.signers.len() != signed.sigs.len() {
        return Err(Error::Command(format!(
            "Invalid transaction sigs: {} signers but {} signatures",
            cmd.signers.len(),
            signed.sigs.len()
        )));
    }
    for (i, (signer, sig)) in cmd.signers.iter().zip(&signed.sigs).enumerate() {
        if let Some(scheme) = signer.scheme.as_deref().filter(|s| *s != "ED25519") {
            return Err(Error::Command(format!(
                "signer {i} uses scheme {scheme:?}, only ED25519 is supported"
            )));
        }
        verify_sig(&signer.pub_key, &sig.sig, key.as_bytes())
            .map_err(|m| Error::Command(format!("Invalid transaction sigs: signer {i}: {m}")))?;
    }
    Ok(cmd)
}

fn verify_sig(pub_key: &str, sig: &str, msg: &[u8]) -> Result<(), String> {
    let mut pk = [0u8; 32];
    hex::decode_to_slice(pub_key, &mut pk).map_err(|_| "public key is not 32 bytes of hex")?;
    let mut sb = [0u8; 64];
    hex::decode_to_slice(sig, &mut sb).map_err(|_| "signature is not 64 bytes of hex")?;
    let vk = VerifyingKey::from_bytes(&pk).map_err(|_| "public key is not a curve point")?;
    vk.verify_strict(msg, &Signature::from_bytes(&sb))
        .map_err(|_| "signature does not verify".to_owned())
}
