import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildProgram } from "./main.ts";
import { loadPipeline, PipelineModuleError, serve, serveCommand } from "./serve.ts";

const EXAMPLE = new URL("../../examples/text-reverse", import.meta.url).pathname;

test("serve loads a folder's pipeline and serves the text-reverse example end to end", async (t) => {
  const served = await serve(EXAMPLE, { port: 0, host: "127.0.0.1", env: {} });
  t.after(() => served.close());
  assert.equal(served.pipeline.name, "text-reverse");
  assert.equal(served.registration, undefined);
  await served.runner.loaded;
  const post = (accept?: string) =>
    fetch(`${served.runner.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(accept ? { accept } : {}) },
      body: JSON.stringify({ text: "ab👍🏽" }),
    });
  assert.deepEqual(await (await post()).json(), { text: "👍🏽ba" });
  assert.equal(
    await (await post("text/event-stream")).text(),
    'data: {"text":"👍🏽"}\n\ndata: {"text":"b"}\n\ndata: {"text":"a"}\n\ndata: [DONE]\n\n',
  );
  const bad = await fetch(`${served.runner.url}/text-reverse`, {
    method: "POST",
    body: "{}",
    headers: { "content-type": "application/json" },
  });
  assert.equal(bad.status, 400);
});

test("serve names /version from PIPELINE and CAPABILITY_NAME of the environment it is given", async (t) => {
  const served = await serve(EXAMPLE, {
    port: 0,
    host: "127.0.0.1",
    env: { PIPELINE: "my-pipeline", CAPABILITY_NAME: "my-capability", MODEL_ID: "ignored" },
  });
  t.after(() => served.close());
  const version = (await (await fetch(`${served.runner.url}/version`)).json()) as Record<string, unknown>;
  assert.equal(version.pipeline, "my-pipeline");
  assert.equal(version.model_id, "my-capability");
  const plain = await serve(EXAMPLE, { port: 0, host: "127.0.0.1", env: {} });
  t.after(() => plain.close());
  const v2 = (await (await fetch(`${plain.runner.url}/version`)).json()) as Record<string, unknown>;
  assert.equal(v2.pipeline, "text-reverse");
  assert.equal(v2.model_id, "");
});

test("serve requires the token when given and registers when ORCH_URL and ORCH_SECRET are set", async (t) => {
  const bodies: string[] = [];
  const orch = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      bodies.push(`${req.url} ${req.headers.authorization} ${body}`);
      res.end("ok");
    });
  });
  await new Promise<void>((r) => orch.listen(0, "127.0.0.1", r));
  t.after(() => orch.close());
  const orchUrl = `http://127.0.0.1:${(orch.address() as AddressInfo).port}`;
  const served = await serve(EXAMPLE, {
    port: 0,
    host: "127.0.0.1",
    token: "tok",
    env: { ORCH_URL: orchUrl, ORCH_SECRET: "sec", CAPABILITY_URL: "http://me:8000" },
  });
  t.after(() => served.close());
  assert.equal(await served.registration?.registered, true);
  const body = JSON.parse(bodies[0]!.split(" ").slice(2).join(" "));
  assert.equal(bodies[0]!.split(" ")[0], "/capability/register");
  assert.equal(bodies[0]!.split(" ")[1], "sec");
  assert.equal(body.name, "text-reverse");
  assert.equal(body.url, "http://me:8000");
  assert.equal(body.token, "tok");
  assert.equal((await fetch(`${served.runner.url}/health`)).status, 401);
  const ok = await fetch(`${served.runner.url}/health`, { headers: { authorization: "Bearer tok" } });
  assert.equal(ok.status, 200);
});

test("a module whose default export is not a pipeline is refused with an actionable message", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-serve-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "index.mjs"), "export default 42;\n");
  await assert.rejects(loadPipeline(dir), (err: unknown) => {
    return err instanceof PipelineModuleError && /export default" a pipeline/.test(err.message);
  });
  await assert.rejects(loadPipeline(join(dir, "missing.ts")), /does not exist/);
  writeFileSync(join(dir, "broken.mjs"), "export default {;\n");
  await assert.rejects(loadPipeline(join(dir, "broken.mjs")), /cannot import/);
  const empty = mkdtempSync(join(tmpdir(), "tributary-serve-empty-"));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  await assert.rejects(loadPipeline(empty), /has none of/);
});

test("serve --help documents the options and the registration variables", () => {
  const help = serveCommand().helpInformation();
  for (const word of ["--port", "--host", "--token", "--no-register", "ORCH_URL", "<file-or-folder>"]) {
    assert.ok(help.includes(word), `help mentions ${word}`);
  }
  assert.ok(
    buildProgram().commands.some((c) => c.name() === "serve"),
    "main.ts registers the serve command",
  );
});
