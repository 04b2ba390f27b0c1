/**
 * `npm run build`: the compiled package in `dist/` that `npm pack` and `npm publish` ship (run by
 * `prepack`). Node refuses to strip types under `node_modules`, so an installed tributary runs
 * JavaScript: `tsc -p tsconfig.build.json` compiles `src/` (tests left out) to `dist/` with `.d.ts`
 * declarations, rewriting relative `.ts` imports to `.js` (`rewriteRelativeImportExtensions`); the
 * files that code reads at run time beside itself (the gateway pages' static files) are copied over.
 *
 * A checkout keeps running from the sources (`bin/tributary.js`, `npm start`, the tests); `dist/` is
 * only what the package exports (package.json `exports`: `types` and `import` conditions).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST = join(ROOT, "dist");

/** Folders under src/ read at run time with `new URL(…, import.meta.url)` (not imported). */
const RUNTIME_ASSETS = ["gateway/static", "gateway/dashboard/static", "gateway/live-page/static"];

const t0 = performance.now();
rmSync(DIST, { recursive: true, force: true });
const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const result = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json")], {
  cwd: ROOT,
  stdio: "inherit",
});
if (result.status !== 0) {
  process.stderr.write("build: tsc failed (see above)\n");
  process.exit(result.status ?? 1);
}
for (const asset of RUNTIME_ASSETS) {
  const from = join(ROOT, "src", asset);
  if (!existsSync(from)) throw new Error(`build: ${from} is missing`);
  cpSync(from, join(DIST, asset), { recursive: true });
}
process.stderr.write(`build: dist/ written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
