-- `ttl` on POST /v1/events/batch (the seed's): how long the batch's Chainweb transaction may
-- wait to be mined, in seconds. Kept with the queued root; an anchor's transaction takes the
-- shortest ttl among its batches (NULL: the configured ANCORA_CHAINWEB_TTL).
ALTER TABLE anchor_queue ADD COLUMN chain_ttl_secs integer CHECK (chain_ttl_secs BETWEEN 1 AND 86400);
