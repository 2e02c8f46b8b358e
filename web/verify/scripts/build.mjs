// npm run build: type-check and emit dist/*.d.ts (tsc), bundle and minify dist/index.js
// (esbuild, ES module, dependencies inlined), and copy it to the repository's
// static/ancora-verify.js, the copy the portal serves.
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundle.mjs";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(pkg, "dist"), { recursive: true, force: true });
execFileSync(process.execPath, [join(pkg, "node_modules/typescript/bin/tsc"), "-p", join(pkg, "tsconfig.json")], { stdio: "inherit" });
await bundle(join(pkg, "dist/index.js"));
copyFileSync(join(pkg, "dist/index.js"), join(pkg, "../../static/ancora-verify.js"));
console.log("built dist/index.js, dist/index.d.ts and static/ancora-verify.js");
