#!/usr/bin/env node
// Entry point of the `tributary` command: the compiled build when present, else the TypeScript source
// (Node >= 24 strips types natively).
import { existsSync } from "node:fs";

const compiled = new URL("../dist/cli/main.js", import.meta.url);
const { buildProgram } = await import(existsSync(compiled) ? compiled.href : "../src/cli/main.ts");
await buildProgram().parseAsync(process.argv);
