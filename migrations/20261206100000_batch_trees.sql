-- Each proved batch stores its Merkle tree once: every node, level by level from the leaves up
-- to the root, 32 bytes each (about 64 bytes an event). Its events' proof rows no longer each
-- store a proof object up to the batch root (about 340 bytes for a batch of 1 000, the bulk
-- of a proof row): a read takes the event's path off the stored tree, without hashing
-- (backend/proof/src/merkle.rs, MerkleTree::from_node_bytes). Batches proved before this keep NULL here, and
-- their proof rows keep their proof objects; both are read as before.
ALTER TABLE batches ADD COLUMN tree bytea CHECK (length(tree) % 32 = 0);
-- Hashes do not compress: stored out of line as they are, without a compression attempt.
ALTER TABLE batches ALTER COLUMN tree SET STORAGE EXTERNAL;

-- A compact proof row now needs only its leaf index. NOT VALID: every existing row meets the
-- stricter check this replaces, so the table is not scanned under an exclusive lock.
ALTER TABLE proofs DROP CONSTRAINT proofs_whole_or_compact;
ALTER TABLE proofs ADD CONSTRAINT proofs_whole_or_compact
    CHECK (bundle IS NOT NULL OR leaf_index IS NOT NULL) NOT VALID;
