import assert from "node:assert/strict";
import { createServer, request, type ServerResponse } from "node:http";
import { test } from "node:test";
import { TributaryError } from "../errors.ts";
import { closeServer, listen } from "./listen.ts";
import {
  pytrickleError,
  sendError,
  sendErrorText,
  sendFormattedError,
  sendJson,
  sendText,
  withDefaults,
} from "./send.ts";

test("withDefaults: a caller's field replaces a default whatever its case", () => {
  assert.deepEqual(withDefaults({ "Content-Type": "a", "Content-Length": "1" }, { "content-type": "b" }), {
    "Content-Length": "1",
    "content-type": "b",
  });
});

/** Runs `answer` as the handler of one GET and returns the raw head and the body. */
async function answerOf(answer: (res: ServerResponse) => void) {
  const server = createServer((_req, res) => answer(res));
  const port = await listen(server, "127.0.0.1", 0);
  try {
    return await new Promise<{ status: number; raw: string[]; body: string } | "reset">((resolve) => {
      const req = request({ port, host: "127.0.0.1", agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders, body }));
        res.on("error", () => resolve("reset"));
      });
      req.on("error", () => resolve("reset"));
      req.end();
    });
  } finally {
    await closeServer(server);
  }
}

const teapot = new TributaryError("TEAPOT", "no coffee here; ask the kettle", { status: 418 });

test("sendJson writes canonical head fields, one Content-Type, Connection: close on a 413", async () => {
  const a = await answerOf((res) =>
    sendJson(res, 201, { ok: true }, { "content-type": "application/x+json" }),
  );
  assert.ok(a !== "reset");
  assert.equal(a.status, 201);
  assert.deepEqual(a.raw.slice(0, 4), ["Content-Length", "11", "content-type", "application/x+json"]);
  assert.equal(a.body, '{"ok":true}');
  const big = await answerOf((res) => sendJson(res, 413, {}));
  assert.ok(big !== "reset" && big.raw.includes("Connection") && big.raw.includes("close"));
});

test("sendError answers in the envelope, go-livepeer's text or pytrickle's shape", async () => {
  const env = await answerOf((res) => sendError(res, teapot));
  assert.ok(env !== "reset");
  assert.equal(env.status, 418);
  assert.deepEqual(JSON.parse(env.body), {
    error: { code: "TEAPOT", message: "no coffee here; ask the kettle" },
  });
  const text = await answerOf((res) => sendErrorText(res, teapot));
  assert.ok(text !== "reset");
  assert.equal(text.body, "no coffee here; ask the kettle\n");
  assert.ok(text.raw.includes("text/plain; charset=utf-8"));
  const py = await answerOf((res) =>
    sendFormattedError(res, new Error("secret detail"), pytrickleError, { "X-Trace-Id": "t1" }),
  );
  assert.ok(py !== "reset");
  assert.equal(py.status, 500);
  assert.deepEqual(JSON.parse(py.body), { status: "error", message: "internal error; see the server log" });
  assert.ok(py.raw.includes("X-Trace-Id") && py.raw.includes("t1"));
  const plain = await answerOf((res) => sendText(res, 405, "Method not allowed"));
  assert.ok(plain !== "reset" && plain.body === "Method not allowed\n");
});

test("sendError on an answer already started destroys it rather than finishing it", async () => {
  const out = await answerOf((res) => {
    res.writeHead(200, { "Content-Length": "100" });
    res.write("partial");
    sendError(res, teapot);
  });
  assert.equal(out, "reset");
});
