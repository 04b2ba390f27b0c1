#!/usr/bin/env node
// Entry point of the `tributary` command: the compiled build when present, else the TypeScript source
// (Node >= 24 strips types natively).
import { existsSync } from "node:fs";

const compiled = new URL("../dist/cli/main.js", import.meta.url);
const { loadProgram } = await import(existsSync(compiled) ? compiled.href : "../src/cli/main.ts");
// loadProgram imports only the module of the command being run, so the CLI starts quickly.
await (await loadProgram(process.argv)).parseAsync(process.argv);
