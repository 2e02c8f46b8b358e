//! An in-memory log: the complete-subtree node store kept in vectors, for tests and tools.

use crate::Error;
use crate::hash::Hash;
use crate::merkle::MerkleProof;

/// A transparency log held in memory, driving the pure functions of [`crate::tlog`] exactly as
/// the service drives them over Postgres.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    /// `levels[l][i]` is the complete node `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The stored complete node `(level, index)`, or [`Error::LogProof`] when there is none.
    pub fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or_else(|| Error::LogProof(format!("no complete node ({level}, {index})")))
    }

    /// Appends a leaf hash (an anchor root) and returns its index.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<u64, Error> {
        let index = self.size();
        let nodes = super::append(index, leaf_hash, |l, i| self.node(l, i))?;
        for (level, _, hash) in nodes {
            let level = usize::from(level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(hash);
        }
        Ok(index)
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.check(size)?;
        super::root(size, |l, i| self.node(l, i))
    }

    /// The current root.
    pub fn root(&self) -> Result<Hash, Error> {
        self.root_at(self.size())
    }

    /// The inclusion proof of leaf `index` in the log's first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<MerkleProof, Error> {
        self.check(size)?;
        super::inclusion_proof(index, size, |l, i| self.node(l, i))
    }

    /// The consistency proof from the first `m` leaves to the first `n`.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, Error> {
        self.check(n)?;
        super::consistency_proof(m, n, |l, i| self.node(l, i))
    }

    fn check(&self, size: u64) -> Result<(), Error> {
        if size > self.size() {
            return Err(Error::LogProof(format!(
                "size {size} is past the log's {} leaves",
                self.size()
            )));
        }
        Ok(())
    }
}
