#!/usr/bin/env node
// Entry point of the `tributary` command. Plain JavaScript that any Node parses, so an older Node gets
// one clear line instead of ERR_UNKNOWN_FILE_EXTENSION. In a checkout it runs the TypeScript sources
// (Node >= 24 strips types natively); in an installed package (no sources, or under node_modules, where
// Node refuses to strip types) it runs the compiled build in dist/.
import { existsSync } from "node:fs";

const NEEDED = 24;
const major = Number(process.versions.node.split(".")[0]);
if (major < NEEDED) {
  process.stderr.write(
    `Tributary needs Node.js ${NEEDED} or newer (this is v${process.versions.node}); run it through npm ` +
      "(npm run tributary -- …, npx tributary …, npm start), which uses the Node.js 24 the project " +
      "installs, or install Node.js 24\n",
  );
  process.exit(1);
}

const source = new URL("../src/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/cli/main.js", import.meta.url);
const fromSource = existsSync(source) && !source.pathname.includes("/node_modules/");
const { loadProgram } = await import(fromSource || !existsSync(compiled) ? source.href : compiled.href);
// loadProgram imports only the module of the command being run, so the CLI starts quickly.
await (await loadProgram(process.argv)).parseAsync(process.argv);
