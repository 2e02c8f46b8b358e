// Compiles each test/*.test.ts into dist-test/*.test.js (esbuild, bundled with the sources it
// imports, Node ESM), for `node --test`. Fast: no type-check here (`npm run typecheck` does it).
import * as esbuild from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(pkg, "dist-test");
rmSync(out, { recursive: true, force: true });
const entries = readdirSync(join(pkg, "test"))
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => join(pkg, "test", f));
await esbuild.build({
  entryPoints: entries,
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "node",
  target: ["node20"],
  sourcemap: "inline",
  packages: "external",
  outExtension: { ".js": ".js" },
  logLevel: "warning",
});
