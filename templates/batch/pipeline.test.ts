import assert from "node:assert/strict";
import { test } from "node:test";
import { startRunner } from "tributary/runner";
import pipeline, { shout } from "./pipeline.ts";

test("shout upper-cases the text and counts characters", () => {
  assert.deepEqual(shout("héllo 👋"), { text: "HÉLLO 👋", characters: 7 });
});

test("POST /my-pipeline answers JSON, streams SSE on request, and rejects bad input with 400", async (t) => {
  const runner = await startRunner(pipeline, { port: 0 });
  t.after(() => runner.close());
  await runner.loaded;
  assert.equal(((await (await fetch(`${runner.url}/health`)).json()) as { status: string }).status, "IDLE");
  const post = (body: string, accept?: string) =>
    fetch(`${runner.url}/my-pipeline`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(accept ? { accept } : {}) },
      body,
    });

  let r = await post('{"text":"hello"}');
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { text: "HELLO", characters: 5 });

  r = await post('{"text":"hi"}', "text/event-stream");
  assert.equal(r.headers.get("content-type"), "text/event-stream");
  assert.equal(await r.text(), 'data: {"text":"HI","characters":2}\n\ndata: [DONE]\n\n');

  r = await post('{"txt":"hello"}');
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /"text": string/);
});
