/**
 * Facts the user documentation states, checked against the software (the first hour of a new user):
 * the quickstart's green-tint price and unsigned-job answers, `tributary init` commands carrying the
 * mandatory `--template`, the green-tint params the guides send, the 502 the orchestrator answers when
 * a BYOC container answers 401, and no path in any Markdown file that leads outside the repository.
 * Where it can, the test runs the code and looks for its answer in the docs.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { initCommand } from "../../src/cli/init.ts";
import { GREEN_TINT_DEVNET_PRICE_PER_PIXEL } from "../../src/dev/network.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { encodeJobHeader, newJobRequest } from "../../src/protocol/job-header.ts";
import { call } from "./orchestrator-helpers.ts";
import { startPricedNode } from "./priced-orchestrator.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (rel: string): string => readFileSync(join(ROOT, rel), "utf8");
/** Markdown as rendered: line breaks inside a paragraph read as spaces. */
const flat = (text: string): string => text.replace(/\s*\n\s*/g, " ");
const trackedMarkdown = (): string[] =>
  execFileSync("git", ["ls-files", "*.md"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "");

describe("docs state what the software does", () => {
  test("quickstart: green-tint's devnet price is the one tributary dev configures", () => {
    const q = flat(read("docs/quickstart.md"));
    assert.doesNotMatch(q, /green-tint is not priced/);
    const m = /on devnet green-tint costs (\d+) wei per pixel/.exec(q);
    assert.ok(m, "the quickstart states green-tint's devnet price");
    assert.equal(BigInt(m[1] as string), GREEN_TINT_DEVNET_PRICE_PER_PIXEL);
    // go-livepeer's live unit: 1280×720 at 30 fps, per second.
    const perSecond = Number(GREEN_TINT_DEVNET_PRICE_PER_PIXEL) * 1280 * 720 * 30;
    assert.match(q, new RegExp(`about ${(perSecond / 1e9).toFixed(1)} × 10\\^9 wei per second`));
  });

  test("quickstart: the answers to an unsigned job sent to the orchestrator are quoted as the code gives them", async () => {
    const q = read("docs/quickstart.md");
    const node = await startPricedNode();
    try {
      const unsigned = encodeJobHeader(newJobRequest({ capability: "shout", timeoutSeconds: 5 }));
      for (const headers of [{}, { livepeer: unsigned }] as Record<string, string>[]) {
        const r = await call(node.orch, "/process/request/shout", { method: "POST", headers, body: "{}" });
        assert.equal(r.status, 400);
        const text = r.body.trim();
        assert.ok(q.includes(`# ${text}\n`), `the quickstart quotes ${JSON.stringify(text)}`);
      }
    } finally {
      await node.close();
    }
  });

  test("every `tributary init <dir>` command in the docs gives --template, which init requires", () => {
    const template = initCommand().options.find((o) => o.long === "--template");
    assert.ok(template?.mandatory, "--template is mandatory");
    const commands: string[] = [];
    for (const f of trackedMarkdown())
      for (const m of read(f).matchAll(
        /(?:^|`)(?:\S*tributary(?:\.js)?|npx tributary) init (?!<dir>` options)[^`\n|]*/gm,
      ))
        commands.push(`${f}: ${m[0]}`);
    assert.ok(commands.length >= 3, commands.join("\n"));
    const missing = commands.filter((c) => !/--template|-t (live|batch)/.test(c));
    assert.deepEqual(missing, []);
  });

  test("green-tint params in the docs are the pipeline's: green, an integer 0..255", async () => {
    const { default: greenTint } = await import("../../examples/green-tint/pipeline.ts");
    let seen = 0;
    for (const f of trackedMarkdown())
      for (const m of read(f).matchAll(/"model_id":\s*"green-tint",\s*"params":\s*(\{[^}]*\})/g)) {
        seen++;
        const params = JSON.parse(m[1] as string) as Record<string, unknown>;
        assert.deepEqual(Object.keys(params), ["green"], `${f}: ${m[0]}`);
        // The pipeline accepts it (an invalid value throws a BadRequestError).
        await greenTint.start?.(params, {} as Parameters<NonNullable<typeof greenTint.start>>[1]);
      }
    assert.ok(seen >= 2, `green-tint starts found in the docs: ${seen}`);
  });

  test("a BYOC container answering 401 is a 502 from the orchestrator, as api.md states", async () => {
    const container = createServer((_req, res) => {
      res.statusCode = _req.url === "/health" ? 200 : 401;
      res.end(_req.url === "/health" ? '{"status":"OK"}' : "no");
    });
    await new Promise<void>((r) => container.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(container.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), "docs-facts-"));
    const orch = await startOrchestrator({
      port: 0,
      orchSecret: "s3cret",
      dataDir: dir,
      reload: { sighup: false },
    });
    try {
      const reg = await call(orch, "/capability/register", {
        method: "POST",
        headers: { authorization: "s3cret" },
        body: JSON.stringify({ name: "locked", url, capacity: 1, price_per_unit: 0 }),
      });
      assert.equal(reg.status, 200);
      const job = encodeJobHeader(newJobRequest({ capability: "locked", timeoutSeconds: 5 }));
      const r = await call(orch, "/process/request/run", {
        method: "POST",
        headers: { livepeer: job },
        body: "{}",
      });
      assert.equal(r.status, 502);
      assert.match(r.body, /worker auth token failed/);
    } finally {
      await orch.close();
      container.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const api = read("docs/api.md");
    const table = api.slice(api.indexOf("`POST /process/request/<route>`"), api.indexOf("### BYOC: streams"));
    assert.match(table, /\| 502 \|[^\n]*answered 401/);
    assert.doesNotMatch(table, /\| 500 \|/);
    assert.doesNotMatch(read("src/orchestrator/README.md"), /500 container 401/);
  });

  test("no Markdown file points outside the repository (links and ../ paths)", () => {
    const outside: string[] = [];
    for (const f of trackedMarkdown()) {
      const text = read(f);
      const targets = [
        ...[...text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)].map((m) => m[1] as string),
        ...[...text.matchAll(/(?<![\w/.])((?:\.\.\/)+[\w./-]+)/g)].map((m) => m[1] as string),
      ];
      for (const t of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(t) || t.startsWith("/")) continue;
        const to = relative(ROOT, resolve(dirname(join(ROOT, f)), t));
        if (to.startsWith("..")) outside.push(`${f}: ${t}`);
      }
    }
    assert.deepEqual(outside, []);
  });
});
