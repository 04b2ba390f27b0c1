import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequestError } from "../../node/errors.ts";
import { defineRunnerApp, RunnerAppDefinitionError, startLiveRunner } from "./app.ts";
import { RunnerSession } from "./session.ts";

test("defineRunnerApp refuses bad route keys, a missing app and a bad capacity", () => {
  const ok = { app: "a/b", routes: {} };
  assert.throws(() => defineRunnerApp({ ...ok, routes: { "FETCH /x": () => 1 } }), RunnerAppDefinitionError);
  assert.throws(() => defineRunnerApp({ ...ok, routes: { "GET x": () => 1 } }), RunnerAppDefinitionError);
  assert.throws(() => defineRunnerApp({ ...ok, routes: { "GET /x": () => 1, "get /x": () => 2 } }), /twice/);
  assert.throws(() => defineRunnerApp({ ...ok, app: " a" }), RunnerAppDefinitionError);
  assert.throws(() => defineRunnerApp({ ...ok, capacity: 0 }), RunnerAppDefinitionError);
  assert.equal(defineRunnerApp({ ...ok, routes: { "/any": () => 1, "POST /files/*": () => 2 } }).app, "a/b");
});

test("routes: methods, any-method, prefixes, JSON and 204 answers, 405, 404, thrown errors, the session", async (t) => {
  const app = defineRunnerApp({
    app: "test/app",
    routes: {
      "GET /x": (c) => ({ method: "GET", q: c.query.get("q") }),
      "POST /x": async (c) => ({ method: "POST", body: await c.json() }),
      "/any": (c) => ({ method: c.req.method }),
      "GET /files/*": (c) => ({ rest: c.rest }),
      "POST /nothing": () => undefined,
      "GET /bad": () => {
        throw new BadRequestError("bad thing");
      },
      "GET /boom": () => {
        throw new Error("secret detail");
      },
      "GET /session": (c) => ({ id: c.session?.id ?? null, route: c.session?.route ?? null }),
    },
  });
  const runner = await startLiveRunner(app, { port: 0 });
  t.after(() => runner.close());
  assert.equal(runner.heartbeats, undefined, "no orchestrator: not registered");
  const u = (p: string) => `${runner.url}${p}`;
  assert.deepEqual(await (await fetch(u("/x?q=1"))).json(), { method: "GET", q: "1" });
  assert.deepEqual(await (await fetch(u("/x"), { method: "POST", body: '{"a":1}' })).json(), {
    method: "POST",
    body: { a: 1 },
  });
  assert.equal((await fetch(u("/x"), { method: "POST", body: "{" })).status, 400);
  const put = await fetch(u("/x"), { method: "PUT" });
  assert.equal(put.status, 405);
  assert.match(put.headers.get("allow") ?? "", /GET, POST/);
  assert.deepEqual(await (await fetch(u("/any"), { method: "DELETE" })).json(), { method: "DELETE" });
  assert.deepEqual(await (await fetch(u("/files/a/b.txt"))).json(), { rest: "a/b.txt" });
  assert.equal((await fetch(u("/nothing"), { method: "POST" })).status, 204);
  const bad = await fetch(u("/bad"));
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: { code: "BAD_REQUEST", message: "bad thing" } });
  const boom = await fetch(u("/boom"));
  assert.equal(boom.status, 500);
  assert.doesNotMatch(await boom.text(), /secret detail/);
  assert.equal((await fetch(u("/nope"))).status, 404);
  assert.deepEqual(await (await fetch(u("/health"))).json(), { status: "OK" });
  assert.deepEqual(await (await fetch(u("/session"))).json(), { id: null, route: null });
  const withSession = await fetch(u("/session"), {
    headers: {
      "Livepeer-Runner-Route": "runner_1",
      "Livepeer-Session-Id": "session_1",
      "Livepeer-Session-Token": "tok",
      "Livepeer-Session-Control": "https://orch/runner/runner_1/session/session_1",
    },
  });
  assert.deepEqual(await withSession.json(), { id: "session_1", route: "runner_1" });
  const noToken = await fetch(u("/session"), { headers: { "Livepeer-Session-Id": "session_1" } });
  assert.equal(noToken.status, 400);
});

test("RunnerSession.fromHeaders: none without a session id; the id needs the token and the control URL", () => {
  assert.equal(RunnerSession.fromHeaders({}), undefined);
  assert.throws(() => RunnerSession.fromHeaders({ "livepeer-session-id": "s" }), BadRequestError);
  const s = RunnerSession.fromHeaders({
    "livepeer-session-id": " s ",
    "livepeer-session-token": "t",
    "livepeer-session-control": "https://o/runner/r/session/s/",
    "livepeer-runner-route": "r",
  });
  assert.deepEqual([s?.id, s?.route], ["s", "r"]);
});

test("an upgrade without an upgrade hook answers 404; partial session headers answer 400", async (t) => {
  const runner = await startLiveRunner(defineRunnerApp({ app: "test/noup", routes: {} }), { port: 0 });
  t.after(() => runner.close());
  const { connect } = await import("node:net");
  const statusOf = (extra: string) =>
    new Promise<string>((resolve, reject) => {
      const u = new URL(runner.url);
      const sock = connect(Number(u.port), u.hostname, () =>
        sock.write(
          `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${extra}\r\n`,
        ),
      );
      sock.once("data", (d: Buffer) => {
        resolve(d.toString().split("\r\n")[0] ?? "");
        sock.destroy();
      });
      sock.on("error", reject);
    });
  assert.equal(await statusOf(""), "HTTP/1.1 404 Not Found");
  assert.equal(await statusOf("Livepeer-Session-Id: s\r\n"), "HTTP/1.1 400 Bad Request");
});
