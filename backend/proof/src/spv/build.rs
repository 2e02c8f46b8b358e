//! Building transaction-output proofs the way Chainweb's `createTransactionOutputProof` does,
//! from data the caller holds: the outputs tree, then the payload tree, then the block
//! header, then any number of header-to-header links (a later header on the same chain names
//! the earlier block as its parent, leaf 2; a header on a neighbouring chain names it as an
//! adjacent parent, leaf `11 + index` with adjacents sorted by chain id).
//!
//! Every step checks that the hash it links really sits in the next structure, so a builder
//! given inconsistent data fails instead of producing a proof that leads nowhere.

use crate::Error;
use crate::chainweb::header::{LEAF_PARENT, LEAF_PAYLOAD_HASH};
use crate::chainweb::payload::{PAYLOAD_LEAF_OUTPUTS, payload_tree};
use crate::chainweb::{BlockHeader, Payload, Tag, tagged};
use crate::hash::{Hash, HashAlgorithm};
use crate::merkle::MerkleProof;
use crate::spv::{Subject, TransactionOutputProof};

/// Where a block hash sits in a later header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderLink {
    /// As the parent (same chain, next height): leaf 2.
    Parent,
    /// As the adjacent parent from this chain (a neighbouring chain): leaf `11 + index`.
    Adjacent(u32),
}

impl HeaderLink {
    /// The leaf index in `child`'s header log and the hash `child` holds there.
    /// [`Error::Invalid`] when `child` has no adjacent parent on the named chain.
    pub fn slot(self, child: &BlockHeader) -> Result<(usize, Hash), Error> {
        match self {
            HeaderLink::Parent => Ok((LEAF_PARENT, child.parent)),
            HeaderLink::Adjacent(chain) => child
                .adjacent_leaf_index(chain)
                .zip(child.adjacents.get(&chain).copied())
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "the header on chain {} at height {} has no adjacent parent on chain {chain}",
                        child.chain_id, child.height
                    ))
                }),
        }
    }
}

/// The steps from the hash at `link` in `child` to `child`'s block hash. `child`'s claimed
/// hash, if any, must match its fields ([`Error::HeaderHashMismatch`]).
pub fn header_link_proof(child: &BlockHeader, link: HeaderLink) -> Result<MerkleProof, Error> {
    child.verified_hash()?;
    let (index, _) = link.slot(child)?;
    child.merkle_tree().proof(index)
}

/// Builds the proof of transaction `tx_index`'s output in `payload` up to `header`'s block
/// hash, as Chainweb does for a proof whose target is the transaction's own block: outputs
/// tree (leaf `tx_index + 1`), payload tree (outputs hash is leaf 1), header (payload hash
/// is leaf 4). The position is `tx_index + 1`; the chain is the header's.
///
/// Fails with [`Error::IndexOutOfRange`] for a transaction the payload lacks,
/// [`Error::RootMismatch`] when the payload is not the header's, and
/// [`Error::HeaderHashMismatch`] when the header's claimed hash does not match its fields.
pub fn build_output_proof(
    payload: &Payload,
    tx_index: usize,
    header: &BlockHeader,
) -> Result<TransactionOutputProof, Error> {
    let output = payload
        .transactions
        .get(tx_index)
        .map(|(_, out)| out)
        .ok_or(Error::IndexOutOfRange {
            index: tx_index,
            len: payload.transactions.len(),
        })?;
    let hashes = payload.hashes();
    if hashes.payload_hash != header.payload_hash {
        return Err(Error::RootMismatch {
            what: "the payload hash in the block header",
            root: hashes.payload_hash,
            expected: header.payload_hash,
        });
    }
    header.verified_hash()?;
    let outputs = payload.outputs_tree().proof(tx_index + 1)?;
    let through_payload =
        payload_tree(hashes.transactions_hash, hashes.outputs_hash).proof(PAYLOAD_LEAF_OUTPUTS)?;
    let through_header = header.merkle_tree().proof(LEAF_PAYLOAD_HASH)?;
    Ok(TransactionOutputProof {
        chain: header.chain_id,
        object: outputs.then(&through_payload).then(&through_header),
        subject: Subject::Input(tagged(Tag::TransactionOutput, output)),
        algorithm: HashAlgorithm::Sha512_256,
    })
}

impl TransactionOutputProof {
    /// Extends the proof by one header: the block the proof currently leads to must be
    /// `child`'s parent ([`HeaderLink::Parent`]) or its adjacent parent on a chain
    /// ([`HeaderLink::Adjacent`]). Afterwards the proof leads to `child`'s hash and targets
    /// `child`'s chain. On error the proof is left unchanged: [`Error::RootMismatch`] when
    /// the link does not hold the current root.
    pub fn extend(&mut self, child: &BlockHeader, link: HeaderLink) -> Result<(), Error> {
        let (_, linked) = link.slot(child)?;
        let root = self.run();
        if root != linked {
            return Err(Error::RootMismatch {
                what: "the linked block hash in the next header",
                root,
                expected: linked,
            });
        }
        let step = header_link_proof(child, link)?;
        self.object.steps.extend_from_slice(&step.steps);
        self.chain = child.chain_id;
        Ok(())
    }
}
