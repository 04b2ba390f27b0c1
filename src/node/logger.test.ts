import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger } from "./logger.ts";

/** A logger writing parsed JSON lines into memory. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: createLogger({ name: "logger-test", level: "debug", destination }), lines };
}

test("snake_case secret and channel URL fields are redacted, at the top and one level down", () => {
  const { log, lines } = memoryLogger();
  const top = ["orch_secret", "auth_token", "private_key", "subscribe_url", "publish_url", "control_url"];
  const nested = ["orch_secret", "auth_token", "private_key", "secret", "token", "url"];
  log.info(Object.fromEntries(top.map((k) => [k, "S3CRET"])), "top");
  log.info({ stream: Object.fromEntries(nested.map((k) => [k, "S3CRET"])), stream_id: "s1" }, "nested");
  assert.equal(lines.length, 2);
  assert.ok(!JSON.stringify(lines).includes("S3CRET"), JSON.stringify(lines));
  for (const k of top) assert.equal(lines[0]?.[k], "[redacted]", k);
  assert.equal(lines[1]?.stream_id, "s1", "other fields stay");
});

test("err passed as the error keeps its type, message and stack in the line", () => {
  const { log, lines } = memoryLogger();
  log.warn({ err: new RangeError("out of credit"), stream_id: "s1" }, "stream failed");
  const err = lines[0]?.err as { type: string; message: string; stack: string };
  assert.equal(err.type, "RangeError");
  assert.equal(err.message, "out of credit");
  assert.match(err.stack, /logger\.test\.ts/);
});
