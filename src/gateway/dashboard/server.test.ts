import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createDashboard, type Dashboard } from "./server.ts";
import type { DashboardSource } from "./source.ts";
import type { DashboardState } from "./state.ts";

/** A source the test sets by hand. */
function manualSource() {
  let state: DashboardState = { version: 1, generatedAt: 1, orchestrators: [], capabilities: [] };
  const listeners = new Set<(s: DashboardState) => void>();
  const source: DashboardSource = {
    snapshot: () => state,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const set = (patch: Partial<DashboardState>) => {
    state = { ...state, ...patch, version: state.version + 1 };
    for (const l of listeners) l(state);
  };
  return { source, set, listeners };
}

async function serve(dashboard: Dashboard): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) {
      res.writeHead(418);
      res.end("not mine");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Reads SSE `state` events from a streaming response until `count` arrived. */
function readEvents(url: string, count: number) {
  const events: DashboardState[] = [];
  const ac = new AbortController();
  const done = (async () => {
    const res = await fetch(url, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i = buf.indexOf("\n\n");
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^event: state$/m.test(block)) {
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
          events.push(JSON.parse(data) as DashboardState);
        }
        i = buf.indexOf("\n\n");
      }
    }
    return { events, ended: events.length < count };
  })();
  return { events, done, abort: () => ac.abort() };
}

describe("dashboard HTTP handler", () => {
  const m = manualSource();
  let dashboard: Dashboard;
  let server: Server;
  let url: string;

  before(async () => {
    dashboard = createDashboard({ source: m.source, maxEventClients: 2 });
    ({ server, url } = await serve(dashboard));
  });
  after(async () => {
    dashboard.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test("api/state answers the source's state as JSON, not cached", async () => {
    const res = await fetch(`${url}/dashboard/api/state`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.deepEqual(await res.json(), m.source.snapshot());
  });

  test("the page is served at the base path with and without the slash, under a strict CSP", async () => {
    for (const path of ["/dashboard", "/dashboard/", "/dashboard?x=1"]) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      const html = await res.text();
      assert.match(html, /src="\/dashboard\/app\.js"/);
      assert.match(html, /href="\/dashboard\/style\.css"/);
    }
  });

  test("serves the JS module and the stylesheet; HEAD answers headers only", async () => {
    const js = await fetch(`${url}/dashboard/app.js`);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(await js.text(), readFileSync(new URL("./static/app.js", import.meta.url), "utf8"));
    const css = await fetch(`${url}/dashboard/style.css`);
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    await css.text();
    const head = await fetch(`${url}/dashboard/app.js`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get("content-length")) > 0);
    assert.equal(await head.text(), "");
  });

  test("nothing in the static files loads from another origin", () => {
    for (const name of ["index.html", "app.js", "style.css"]) {
      const text = readFileSync(new URL(`./static/${name}`, import.meta.url), "utf8");
      assert.doesNotMatch(text, /(src|href)\s*=\s*["']?(https?:)?\/\//i, name);
      assert.doesNotMatch(text, /@import|\burl\(/, name);
      assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, name);
    }
  });

  test("unknown paths under the base are JSON 404s; other paths are left to the caller", async () => {
    const res = await fetch(`${url}/dashboard/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    const traversal = await fetch(`${url}/dashboard/..%2fpackage.json`);
    assert.equal(traversal.status, 404);
    await traversal.text();
    for (const path of ["/", "/dashboardx", "/other/dashboard"]) {
      const other = await fetch(`${url}${path}`);
      assert.equal(other.status, 418, path);
      await other.text();
    }
  });

  test("methods other than GET and HEAD answer 405 with Allow", async () => {
    const res = await fetch(`${url}/dashboard/api/state`, { method: "POST", body: "{}" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
    await res.text();
  });

  test("events: the state on connect, then every change; a disconnect unsubscribes", async () => {
    const stream = readEvents(`${url}/dashboard/events`, 2);
    while (m.listeners.size === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(dashboard.eventClients, 1);
    m.set({ snapshotAt: 42 });
    const { events } = await stream.done;
    assert.equal(events.length, 2);
    assert.equal(events[1]!.version, events[0]!.version + 1);
    assert.equal(events[1]!.snapshotAt, 42);
    stream.abort();
    while (dashboard.eventClients > 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(m.listeners.size, 0);
  });

  test("event streams beyond the limit answer 503", async () => {
    const a = readEvents(`${url}/dashboard/events`, 99);
    const b = readEvents(`${url}/dashboard/events`, 99);
    while (dashboard.eventClients < 2) await new Promise((r) => setTimeout(r, 5));
    const res = await fetch(`${url}/dashboard/events`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "5");
    await res.text();
    a.abort();
    b.abort();
    await Promise.allSettled([a.done, b.done]);
    while (dashboard.eventClients > 0) await new Promise((r) => setTimeout(r, 5));
  });
});

describe("dashboard lifecycle and mounting", () => {
  test("close ends open event streams", async () => {
    const m = manualSource();
    const dashboard = createDashboard({ source: m.source });
    const { server, url } = await serve(dashboard);
    try {
      const stream = readEvents(`${url}/dashboard/events`, 5);
      while (dashboard.eventClients === 0) await new Promise((r) => setTimeout(r, 5));
      dashboard.close();
      const { events, ended } = await stream.done;
      assert.ok(ended, "the stream ended");
      assert.equal(events.length, 1);
      assert.equal(m.listeners.size, 0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test("mounts under another base path and rejects unsafe ones", async () => {
    const m = manualSource();
    using dashboard = createDashboard({ source: m.source, basePath: "/ops/net" });
    const { server, url } = await serve(dashboard);
    try {
      const html = await (await fetch(`${url}/ops/net/`)).text();
      assert.match(html, /src="\/ops\/net\/app\.js"/);
      const res = await fetch(`${url}/dashboard/api/state`);
      assert.equal(res.status, 418);
      await res.text();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    for (const bad of ["dashboard", "/dashboard/", '/a"b', "/a b", ""]) {
      assert.throws(() => createDashboard({ source: m.source, basePath: bad }), RangeError, bad);
    }
  });

  test("HEAD on events answers headers and no stream", async () => {
    const m = manualSource();
    using dashboard = createDashboard({ source: m.source });
    const { server, url } = await serve(dashboard);
    try {
      const res = await new Promise<{ status: number; type: string }>((resolve, reject) => {
        const req = request(`${url}/dashboard/events`, { method: "HEAD" }, (r) => {
          r.resume();
          r.on("end", () => resolve({ status: r.statusCode ?? 0, type: String(r.headers["content-type"]) }));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(res.status, 200);
      assert.match(res.type, /text\/event-stream/);
      assert.equal(dashboard.eventClients, 0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test("extra views answer JSON at api/<name>; unknown names and prototype keys answer 404", async () => {
    const m = manualSource();
    let calls = 0;
    using dashboard = createDashboard({
      source: m.source,
      views: { capabilities: () => ({ n: ++calls }) },
    });
    const { server, url } = await serve(dashboard);
    try {
      const res = await fetch(`${url}/dashboard/api/capabilities`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.deepEqual(await res.json(), { n: 1 });
      assert.deepEqual(
        await (await fetch(`${url}/dashboard/api/capabilities`)).json(),
        { n: 2 },
        "computed per request",
      );
      for (const name of ["orchestrators", "constructor", "__proto__"])
        assert.equal((await fetch(`${url}/dashboard/api/${name}`)).status, 404, name);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
