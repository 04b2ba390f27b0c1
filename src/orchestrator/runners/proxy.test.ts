import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { checkProxyTarget, ProxyTemplate, proxyHttp, targetUrl } from "./proxy.ts";

test("the default template is {serviceUri}/run/{proxy} and matches only its host and prefix", () => {
  const t = new ProxyTemplate(undefined, "https://orch.example:8935/");
  assert.equal(t.url("abc"), "https://orch.example:8935/run/abc");
  assert.deepEqual(t.match("orch.example:8935", "/run/abc/v1/status"), { id: "abc", appPath: "v1/status" });
  assert.deepEqual(t.match("ORCH.example:8935", "/run/abc"), { id: "abc", appPath: "" });
  assert.equal(t.match("other:8935", "/run/abc"), undefined);
  assert.equal(t.match("orch.example:8935", "/apps/abc"), undefined);
  assert.equal(t.match("orch.example:8935", "/run/"), undefined);
});

test("a host template gives each proxy a subdomain, with an optional fixed path", () => {
  const t = new ProxyTemplate("https://{proxy}.apps.example.com/proxy", "https://o:1");
  assert.equal(t.url("abc"), "https://abc.apps.example.com/proxy");
  assert.deepEqual(t.match("abc.apps.example.com", "/proxy/v1"), { id: "abc", appPath: "v1" });
  assert.deepEqual(t.match("abc.apps.example.com:443", "/proxy"), { id: "abc", appPath: "" });
  assert.equal(t.match("abc.apps.example.com", "/other"), undefined);
  assert.equal(t.match("apps.example.com", "/proxy"), undefined);
});

test("invalid templates are refused as go-livepeer refuses them", () => {
  for (const [raw, message] of [
    ["https://a/{proxy}/{proxy}", /exactly one/],
    ["https://a/run", /exactly one/],
    ["/run/{proxy}", /absolute/],
    ["ftp://a/{proxy}", /http or https/],
    ["https://a/run/{proxy}/fixed", /final path segment/],
  ] as const)
    assert.throws(() => new ProxyTemplate(raw, "https://o:1"), { status: 400, message }, raw);
});

test("proxy targets: absolute http(s), no fragment, the runner's hostname (any port and path)", () => {
  const runner = "http://runner.internal:8080";
  assert.equal(checkProxyTarget("http://runner.internal:9000/ui/", runner), "http://runner.internal:9000/ui");
  assert.equal(checkProxyTarget("https://RUNNER.internal/x", runner), "https://RUNNER.internal/x");
  for (const [raw, message] of [
    ["", /required/],
    ["runner.internal/x", /absolute/],
    ["ws://runner.internal/x", /http or https/],
    ["http://runner.internal/x#a", /fragment/],
    ["http://169.254.169.254/latest", /hostname must match/],
  ] as const)
    assert.throws(() => checkProxyTarget(raw, runner), { status: 400, message }, raw);
});

test("targetUrl joins the runner path and the app path with one slash and keeps the query", () => {
  assert.equal(targetUrl("http://r:1", "a/b", "?x=1").toString(), "http://r:1/a/b?x=1");
  assert.equal(targetUrl("http://r:1/base/", "/a", "").toString(), "http://r:1/base/a");
  assert.equal(targetUrl("http://r:1/base", "", "").toString(), "http://r:1/base/");
});

test("proxyHttp turns Nagle off on the client's HTTP/1.1 connection (else each write after the headers waits ~40 ms for a delayed ACK)", async (t) => {
  const listen = async (server: Server): Promise<string> => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const runner = await listen(
    createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${req.headers["livepeer-session-id"]}\n\n`);
    }),
  );
  const noDelay: (boolean | undefined)[] = [];
  const front = await listen(
    createServer((req, res) => {
      const socket = res.socket;
      assert.ok(socket);
      const original = socket.setNoDelay.bind(socket);
      socket.setNoDelay = (on?: boolean) => {
        noDelay.push(on);
        return original(on);
      };
      const session = { route: "r", sessionId: "s1", token: "t", control: "http://o/runner/r/session/s1" };
      void proxyHttp(req, res, targetUrl(runner, "sse", ""), session);
    }),
  );
  const text = await new Promise<string>((resolve, reject) => {
    request(`${front}/x`, { agent: false }, (res) => {
      let got = "";
      res.on("data", (c) => {
        got += c;
      });
      res.on("end", () => resolve(got));
    })
      .on("error", reject)
      .end();
  });
  assert.equal(text, "data: s1\n\n");
  assert.deepEqual(noDelay, [true]);
});
