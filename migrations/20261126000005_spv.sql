-- SPV-as-a-Service: Chainweb SPV proofs fetched for a tenant, verified, and kept so that a
-- second request for the same transaction is answered without a node.
--
-- A row is written only after the proof was verified against a block header whose fields
-- hash to its hash (ancora-proof's verify_against_header): there is no "verified" flag that
-- could say false, only verified_at. Tenant data, so row-level security like every tenant
-- table.

CREATE TABLE spv_proofs (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    -- The chain the transaction ran on, and the chain the proof leads to.
    chain_id         integer NOT NULL CHECK (chain_id >= 0),
    target_chain_id  integer NOT NULL CHECK (target_chain_id >= 0),
    -- base64url of the 32-byte request key.
    request_key      text NOT NULL CHECK (length(request_key) = 43),
    -- The /pact/spv response string, verbatim.
    proof            text NOT NULL,
    -- The target block header (object encoding) the proof leads to, and its hash and height.
    header           jsonb NOT NULL,
    block_hash       text NOT NULL,
    block_height     bigint NOT NULL,
    -- The proven CommandResult.
    subject          jsonb NOT NULL,
    verified_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, chain_id, request_key, target_chain_id)
);
CREATE INDEX spv_proofs_tenant ON spv_proofs (tenant_id, verified_at);

ALTER TABLE spv_proofs ENABLE ROW LEVEL SECURITY;
ALTER TABLE spv_proofs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON spv_proofs
    USING (tenant_id = ancora_current_tenant())
    WITH CHECK (tenant_id = ancora_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON spv_proofs TO ancora_app;
