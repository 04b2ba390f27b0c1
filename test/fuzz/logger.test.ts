/**
 * Fuzzing of log redaction (src/node/logger.ts): a random secret placed under any of the redacted
 * keys, at the top level, one level down or in `headers`, never reaches the log output, whatever
 * else the line carries; and what is not a secret is kept.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import fc from "fast-check";
import { createLogger } from "../../src/node/logger.ts";
import { check } from "./fuzz-util.ts";

const RUNS = 300;

/** A logger writing into memory (pino's sync path for a plain Writable). */
function memoryLogger(): { log: ReturnType<typeof createLogger>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  return { log: createLogger({ name: "fuzz", level: "debug", destination }), text: () => chunks.join("") };
}

/** A secret that cannot occur by chance in the rest of a line. */
const secret = fc.stringMatching(/^[A-Za-z0-9]{24,40}$/).map((s) => `S3CR3T${s}`);
const TOP = [
  "secret",
  "orchSecret",
  "token",
  "authToken",
  "password",
  "privateKey",
  "url",
  "channelUrl",
  "subscribeUrl",
  "publishUrl",
  "controlUrl",
  "eventsUrl",
  "dataUrl",
];
const NESTED = ["secret", "orchSecret", "token", "authToken", "password", "privateKey", "url"];
const HEADERS = ["authorization", "livepeer", "livepeer-payment", "livepeer-segment"];

const placement = fc.oneof(
  fc.constantFrom(...TOP).map((k) => (s: string) => ({ [k]: s })),
  fc
    .tuple(fc.stringMatching(/^o[a-z]{0,7}$/), fc.constantFrom(...NESTED))
    .map(([outer, k]) => (s: string) => ({ [outer]: { [k]: s } })),
  fc.constantFrom(...HEADERS).map((k) => (s: string) => ({ headers: { [k]: s, accept: "*/*" } })),
  fc
    .tuple(fc.stringMatching(/^o[a-z]{0,7}$/), fc.constantFrom(...HEADERS))
    .map(([outer, k]) => (s: string) => ({ [outer]: { headers: { [k]: s, accept: "*/*" } } })),
);

describe("fuzz: log redaction", () => {
  test("a secret under a redacted key never reaches the output; other fields stay", () => {
    check(
      "log redaction",
      RUNS,
      [
        secret,
        placement,
        fc.dictionary(
          fc.stringMatching(/^x[a-z]{0,6}$/),
          fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes("__proto__")),
          { maxKeys: 4 },
        ),
        fc.string({ maxLength: 30 }),
      ],
      (s, place, extra, message) => {
        const { log, text } = memoryLogger();
        log.info({ ...extra, ...place(s) }, message);
        const out = text();
        assert.ok(!out.includes(s), `secret in the log line: ${out}`);
        assert.ok(out.includes("[redacted]"), out);
        const line = JSON.parse(out) as Record<string, unknown>;
        for (const key of Object.keys(extra))
          assert.deepEqual(line[key], JSON.parse(JSON.stringify(extra[key])));
      },
    );
  });
});
