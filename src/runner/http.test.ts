import assert from "node:assert/strict";
import { test } from "node:test";
import {
  acceptsEventStream,
  bearerAuthorized,
  decodeBatchBody,
  isJsonType,
  parseJson,
  sseData,
} from "./http.ts";

const enc = (s: string) => new TextEncoder().encode(s);

test("JSON content types include +json variants and ignore parameters", () => {
  assert.equal(isJsonType("application/json; charset=utf-8"), true);
  assert.equal(isJsonType("application/vnd.x+json"), true);
  assert.equal(isJsonType("text/plain"), false);
  assert.equal(isJsonType(undefined), false);
});

test("bad or empty JSON is a BadRequestError with a clear message", () => {
  assert.throws(() => parseJson(enc("{")), { code: "INVALID_JSON", status: 400 });
  assert.throws(() => parseJson(enc("  ")), /empty/);
  assert.deepEqual(parseJson(enc('{"a":1}')), { a: 1 });
});

test("batch bodies decode by content type: json, text, bytes, multipart with files", async () => {
  assert.deepEqual(await decodeBatchBody("application/json", enc("[1]")), [1]);
  assert.equal(await decodeBatchBody("text/plain", enc("héllo")), "héllo");
  const bytes = await decodeBatchBody("application/octet-stream", enc("ab"));
  assert.ok(bytes instanceof Uint8Array);
  assert.equal(bytes.length, 2);
  const form = new FormData();
  form.append("prompt", "cat");
  form.append("tag", "a");
  form.append("tag", "b");
  form.append("image", new Blob([new Uint8Array([1, 2, 3])], { type: "image/png" }), "x.png");
  const req = new Request("http://x/", { method: "POST", body: form });
  const body = new Uint8Array(await req.arrayBuffer());
  const out = (await decodeBatchBody(req.headers.get("content-type")!, body)) as Record<string, unknown>;
  assert.equal(out.prompt, "cat");
  assert.deepEqual(out.tag, ["a", "b"]);
  const image = out.image as { filename: string; contentType: string; data: Uint8Array };
  assert.equal(image.filename, "x.png");
  assert.equal(image.contentType, "image/png");
  assert.deepEqual([...image.data], [1, 2, 3]);
  await assert.rejects(decodeBatchBody("multipart/form-data; boundary=zz", enc("garbage")), { status: 400 });
});

test("bearer auth accepts only the exact token; no token configured means open", () => {
  assert.equal(bearerAuthorized(undefined, undefined), true);
  assert.equal(bearerAuthorized("Bearer s3cret", "s3cret"), true);
  assert.equal(bearerAuthorized("bearer s3cret", "s3cret"), true);
  assert.equal(bearerAuthorized("Bearer s3cre", "s3cret"), false);
  assert.equal(bearerAuthorized("s3cret", "s3cret"), false);
  assert.equal(bearerAuthorized(undefined, "s3cret"), false);
});

test("SSE helpers: accept detection and JSON data lines", () => {
  assert.equal(acceptsEventStream("application/json, text/event-stream;q=0.9"), true);
  assert.equal(acceptsEventStream("*/*"), false);
  assert.equal(sseData("a\nb"), 'data: "a\\nb"\n\n');
});
