import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequestError, startLiveRunner } from "tributary/runner";
import { app, shout, textOf } from "./pipeline.ts";

test("shout and textOf", () => {
  assert.equal(shout("hi there"), "HI THERE");
  assert.equal(textOf({ text: "x" }), "x");
  for (const bad of [{}, { text: 3 }, null, { text: "" }]) assert.throws(() => textOf(bad), BadRequestError);
});

test("the runner answers JSON and streams SSE (served directly, without an orchestrator)", async (t) => {
  const runner = await startLiveRunner(app, { port: 0 });
  t.after(() => runner.close());
  const post = (path: string, body: unknown) =>
    fetch(`${runner.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  const r = await post("/shout", { text: "hello" });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { text: "HELLO" });
  assert.equal((await post("/shout", { nope: 1 })).status, 400);
  const s = await post("/stream", { text: "a b" });
  assert.match(s.headers.get("content-type") ?? "", /text\/event-stream/);
  assert.equal(await s.text(), 'data: {"token":"A"}\n\ndata: {"token":"B"}\n\ndata: [DONE]\n\n');
  assert.deepEqual(await (await fetch(`${runner.url}/health`)).json(), { status: "OK" });
});
