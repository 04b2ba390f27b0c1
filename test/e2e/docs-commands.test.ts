/**
 * Every command the README, the guides, the template and example READMEs and the dev summary print
 * works as printed on a fresh machine, whose `node` may be older than 24: the CLI is run through npm
 * (`npm run tributary -- …`, `npm start`, `npx tributary …` in a project), which uses the Node.js 24
 * that `npm install` brings, never as `node src/….ts` (ERR_UNKNOWN_FILE_EXTENSION on Node 20) or a bare
 * `node bin/tributary.js` (which then only says that Node.js 24 is needed).
 */
import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { formatSummary } from "../../src/cli/dev.ts";
import { ROOT } from "./compose-model.ts";

/** The tributary CLI run with the machine's `node` (a path relative to a checkout; images have Node 24). */
const NEEDS_NODE_24 = /(^|[\s;&|(`$])node\s+(?!\/)(\S*\/)?(src\/cli\/main\.ts|bin\/tributary\.js)\b/;
/(^|[\s;&|(`$])node\s+(\S*\/)?(src|bin|scripts|examples)\/\S+|(^|[\s;&|(`$])node\s+\S+\.ts\b/;

/** The shell lines of a markdown file's fenced code blocks (```sh, ```bash, ```shell or unlabelled). */
function shellLines(markdown: string): string[] {
  const out: string[] = [];
  let inShell = false;
  let inFence = false;
  for (const line of markdown.split("\n")) {
    const fence = /^\s*```(\w*)/.exec(line);
    if (fence) {
      if (inFence) {
        inFence = false;
        inShell = false;
      } else {
        inFence = true;
        inShell = ["sh", "bash", "shell", "console"].includes(fence[1] ?? "");
      }
      continue;
    }
    if (inShell) out.push(line.replace(/#.*$/, ""));
  }
  return out;
}

/** Inline `code` spans that read as a command to run. */
function inlineCommands(markdown: string): string[] {
  return [...markdown.matchAll(/`(node [^`]+)`/g)].map((m) => m[1]!);
}

test("the docs print CLI commands that run on a fresh machine (through npm, not node src/… or node bin/…)", () => {
  const files = [
    "README.md",
    ...globSync("docs/*.md", { cwd: ROOT }).filter((f) => f !== "docs/security.md"),
    ...globSync("templates/*/README.md", { cwd: ROOT }),
    ...globSync("examples/*/README.md", { cwd: ROOT }),
  ];
  assert.ok(files.length > 5);
  const bad: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const line of shellLines(text)) if (NEEDS_NODE_24.test(line)) bad.push(`${file}: ${line.trim()}`);
    // Prose may name `node bin/tributary.js` when it says to put Node.js 24 first on the PATH.
    for (const cmd of inlineCommands(text))
      if (
        NEEDS_NODE_24.test(cmd) &&
        !/PATH|older Node/.test(text.slice(text.indexOf(cmd) - 200, text.indexOf(cmd) + 300))
      )
        bad.push(`${file}: \`${cmd}\``);
  }
  assert.deepEqual(bad, [], "commands that fail on a Node older than 24 (use npm run tributary -- …)");
});

test("the dev summary's commands run through npm too", () => {
  const text = formatSummary({
    mode: "devnet",
    readyMs: 1000,
    dataDir: "/tmp/x",
    gateway: { url: "http://127.0.0.1:8937", dashboard: "http://127.0.0.1:8937/dashboard" },
    orchestrator: { url: "https://127.0.0.1:8935", secret: "s" },
    accounts: [{ role: "gateway", address: "0x7099", privateKey: "0x59c6" }],
    containers: [{ name: "text-reverse", url: "http://127.0.0.1:40001", capability: "byoc/text-reverse" }],
    chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 31337, contracts: { ticketBroker: "0xCf7E" } },
    signedEthAddressHeader: "ETHADDR",
    samplePaymentHeader: "PAYMENT",
    childPids: [],
  });
  const lines = text.split("\n").filter((l) => NEEDS_NODE_24.test(l));
  assert.deepEqual(lines, []);
  assert.match(text, /npm run -s tributary -- payment decode PAYMENT/);
});

test("the check catches what it is for", () => {
  for (const cmd of [
    "node src/cli/main.ts dev",
    "cd x && node bin/tributary.js init y",
    "node path/to/tributary/bin/tributary.js init x",
  ])
    assert.ok(NEEDS_NODE_24.test(cmd), cmd);
  for (const cmd of [
    "npm run tributary -- dev",
    "npx tributary serve pipeline.ts",
    "node --test pipeline.test.ts",
  ])
    assert.equal(NEEDS_NODE_24.test(cmd), false, cmd);
});
