//! The crate's one error type. Every message is one line: node bodies are shortened and
//! their line breaks replaced, and no message ever holds key material.

use std::path::PathBuf;

/// Everything that can go wrong when building, signing, sending or checking Chainweb data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A secret or public key that is not 32 bytes of hex. The message never holds the key.
    #[error("invalid key: {0}")]
    Key(String),
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A Pact command that cannot be built or signed as asked (a signer without a key, …).
    #[error("invalid command: {0}")]
    Command(String),
    /// A request key that is not 32 bytes of base64url.
    #[error("invalid request key {0:?}: must be 32 bytes of base64url without padding")]
    RequestKey(String),
    /// A chain id that is not a decimal number.
    #[error("invalid chain id {0:?}")]
    ChainId(String),
    /// The client was configured wrongly (no node, a bad URL, …).
    #[error("node client configuration: {0}")]
    Config(String),
    /// A node rejected the request (HTTP 4xx): a bad command, an expired TTL, an unknown
    /// header. Retrying elsewhere will not help.
    #[error("node {url} rejected the request with HTTP {status}: {body}")]
    Rejected {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The node's message, on one line and shortened.
        body: String,
    },
    /// A node failed on its side (HTTP 5xx).
    #[error("node {url} failed with HTTP {status}: {body}")]
    ServerError {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The node's message, on one line and shortened.
        body: String,
    },
    /// No answer in time.
    #[error("node {url} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The URL asked.
        url: String,
        /// The timeout in force.
        timeout_ms: u64,
    },
    /// The connection failed (refused, reset, DNS, TLS).
    #[error("node {url} unreachable: {message}")]
    Transport {
        /// The URL asked.
        url: String,
        /// Why, on one line.
        message: String,
    },
    /// The node answered 2xx with something that is not the documented shape.
    #[error("node {url} sent a malformed {what}: {message}")]
    Malformed {
        /// The URL asked.
        url: String,
        /// What was expected ("poll response", "block header", …).
        what: &'static str,
        /// What is wrong with it, on one line.
        message: String,
    },
    /// Every node was tried (with retries) and none gave a usable answer.
    #[error("all {nodes} nodes failed after {attempts} attempts; last error: {last}")]
    AllNodesFailed {
        /// How many nodes are configured.
        nodes: usize,
        /// How many requests were made in all.
        attempts: u32,
        /// The last error.
        last: Box<Error>,
    },
    /// Proof material from a node that does not check out (forged header, bad proof, …).
    #[error("proof check failed: {0}")]
    Proof(#[from] ancora_proof::Error),
}

impl Error {
    /// True for errors worth retrying on the same or another node: 5xx, timeouts,
    /// connection failures and malformed answers.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ServerError { .. }
                | Error::Timeout { .. }
                | Error::Transport { .. }
                | Error::Malformed { .. }
        )
    }

    /// The error behind [`Error::AllNodesFailed`] (itself for any other error).
    pub fn last(&self) -> &Error {
        match self {
            Error::AllNodesFailed { last, .. } => last.last(),
            other => other,
        }
    }
}

/// Text from a node made fit for a one-line message: line breaks and control characters
/// become spaces and anything past 300 characters is cut.
pub(crate) fn one_line(text: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.trim().chars().count() > MAX {
        out.push('…');
    }
    out
}
