// Bundles and trust for the benchmark, built with the tests' world (see test/world.ts).
import { b64urlEncode } from "../src/encoding.js";
import { bundleV2, goodBundleV1, signer } from "../test/world.js";

export function benchData() {
  const { bundle, header } = bundleV2(["tlog", "chainweb"]);
  return {
    v1: JSON.stringify(goodBundleV1()),
    v2: JSON.stringify(bundle),
    logKey: signer().verifierKey(),
    header,
    anchor: b64urlEncode(new Uint8Array(0)),
  };
}
