import assert from "node:assert/strict";
import { test } from "node:test";
import { startRunner } from "../../src/runner/index.ts";
import pipeline, { reverseText } from "./pipeline.ts";

test("reversal keeps grapheme clusters intact", () => {
  assert.equal(reverseText("hello"), "olleh");
  assert.equal(reverseText("e\u0301a"), "ae\u0301");
  assert.equal(reverseText("a👩‍👩‍👧b🇫🇷"), "🇫🇷b👩‍👩‍👧a");
  assert.equal(reverseText(""), "");
});

test("POST /text-reverse answers JSON, streams SSE on request, and rejects bad input with 400", async (t) => {
  const runner = await startRunner(pipeline, { port: 0 });
  t.after(() => runner.close());
  await runner.loaded;
  const post = (body: string, accept?: string) =>
    fetch(`${runner.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(accept ? { accept } : {}) },
      body,
    });
  let r = await post('{"text":"héllo 👋"}');
  assert.deepEqual(await r.json(), { text: "👋 olléh" });
  r = await post('{"text":"ab"}', "text/event-stream");
  assert.equal(r.headers.get("content-type"), "text/event-stream");
  assert.equal(await r.text(), 'data: {"text":"b"}\n\ndata: {"text":"a"}\n\ndata: [DONE]\n\n');
  r = await post('{"txt":"ab"}');
  assert.equal(r.status, 400);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, "INVALID_INPUT");
});
