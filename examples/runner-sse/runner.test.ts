import assert from "node:assert/strict";
import { test } from "node:test";
import { startLiveRunner } from "../../src/runner/index.ts";
import { app, tokensOf } from "./runner.ts";

test("tokensOf gives the prompt's words, last first", () => {
  assert.deepEqual(tokensOf("  a b\tc "), ["c", "b", "a"]);
  assert.deepEqual(tokensOf(""), []);
});

test("the runner streams tokens over SSE, refuses a bad prompt with 400 and /notes without a session", async (t) => {
  // Served directly (no orchestrator): test/e2e/live-runner-sdk.test.ts runs it behind one.
  const runner = await startLiveRunner(app, { port: 0 });
  t.after(() => runner.close());
  const r = await fetch(`${runner.url}/generate`, {
    method: "POST",
    body: JSON.stringify({ prompt: "hi there" }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /text\/event-stream/);
  assert.equal(await r.text(), 'data: {"token":"there"}\n\ndata: {"token":"hi"}\n\ndata: [DONE]\n\n');
  const bad = await fetch(`${runner.url}/generate`, { method: "POST", body: JSON.stringify({ prompt: 3 }) });
  assert.equal(bad.status, 400);
  const notes = await fetch(`${runner.url}/notes`, { method: "POST" });
  assert.equal(notes.status, 400);
  assert.match(
    ((await notes.json()) as { error: { message: string } }).error.message,
    /orchestrator session/,
  );
  assert.equal((await fetch(`${runner.url}/generate`)).status, 405);
  assert.deepEqual(await (await fetch(`${runner.url}/health`)).json(), { status: "OK" });
});
