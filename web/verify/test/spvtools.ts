// Building /pact/spv proofs from real data, the way Chainweb's createTransactionOutputProof
// does (outputs tree → payload tree → header), for positive SPV tests without a node.
import { b64urlEncode, utf8 } from "../src/encoding.js";
import {
  BlockHeader, LEAF_PAYLOAD_HASH, PAYLOAD_LEAF_OUTPUTS, Payload, Tag, headerTree, outputsTree, payloadHashes, payloadTree, tagged,
} from "../src/chainweb.js";
import { MerkleProof, chainProofs, encodeProof } from "../src/merkle.js";

export interface BuiltProof {
  chain: number;
  object: MerkleProof;
  subject: Uint8Array;
}

export function buildOutputProof(payload: Payload, txIndex: number, header: BlockHeader): BuiltProof {
  const h = payloadHashes(payload);
  const outputs = outputsTree(payload).proof(txIndex + 1);
  const throughPayload = payloadTree(h.transactionsHash, h.outputsHash).proof(PAYLOAD_LEAF_OUTPUTS);
  const throughHeader = headerTree(header).proof(LEAF_PAYLOAD_HASH);
  return {
    chain: header.chainId,
    object: chainProofs(outputs, throughPayload, throughHeader),
    subject: tagged(Tag.TransactionOutput, payload.transactions[txIndex]![1]),
  };
}

/** The JSON proof, in Chainweb's field order. */
export function proofJson(p: BuiltProof, chain: unknown = p.chain): string {
  return JSON.stringify({ chain, object: b64urlEncode(encodeProof(p.object)), subject: { input: b64urlEncode(p.subject) }, algorithm: "SHA512t_256" });
}

/** The `/pact/spv` response string: base64url of the JSON proof. */
export function spvResponse(p: BuiltProof): string {
  return b64urlEncode(utf8(proofJson(p)));
}
