// The one esbuild configuration of the shipped bundle, shared by build and check-static so the
// committed static copy can be compared with a fresh build byte for byte.
import * as esbuild from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function bundle(outfile) {
  await esbuild.build({
    entryPoints: [join(pkg, "src/index.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: ["es2022"],
    minify: true,
    legalComments: "eof",
    charset: "ascii",
    logLevel: "warning",
    banner: { js: "/* @ancora/verify — built from web/verify by `npm run build`; do not edit. */" },
  });
}
