// The router over fake requests and responses: no server, no network.
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { BadRequestError, errorBody, httpStatusOf } from "../errors.ts";
import type { NodeRequest, NodeResponse } from "../server.ts";
import { type ErrorFormatter, MethodNotAllowedError, pathOf, Router } from "./router.ts";

function request(method: string, url: string): NodeRequest {
  return { method, url, headers: {} } as unknown as NodeRequest;
}

/** A response that keeps what was written. */
function response() {
  const r = {
    status: 0,
    headers: {} as Record<string, string>,
    body: "",
    headersSent: false,
    destroyed: false,
    setHeader(name: string, value: string) {
      r.headers[name.toLowerCase()] = value;
    },
    writeHead(status: number, headers: Record<string, string> = {}) {
      r.status = status;
      for (const [k, v] of Object.entries(headers)) r.headers[k.toLowerCase()] = v;
      r.headersSent = true;
    },
    end(text = "") {
      r.body += text;
    },
    destroy() {
      r.destroyed = true;
    },
  };
  return r;
}
const asRes = (r: ReturnType<typeof response>) => r as unknown as NodeResponse;

const json: ErrorFormatter = (res, err) => {
  (res as ServerResponse).writeHead(httpStatusOf(err), { "content-type": "application/json" });
  res.end(JSON.stringify(errorBody(err)));
};
const text: ErrorFormatter = (res, err) => {
  (res as ServerResponse).writeHead(httpStatusOf(err), { "content-type": "text/plain" });
  res.end(`${errorBody(err).error.message}\n`);
};

async function call(router: Router, method: string, url: string) {
  const res = response();
  await router.handle(request(method, url), asRes(res));
  return res;
}

test("exact routes win over prefixes, the longest prefix wins, the query string is ignored", async () => {
  const seen: string[] = [];
  const router = new Router({ formatError: json });
  router
    .group({ name: "g" })
    .route("/a/b", (_q, _r, m) => void seen.push(`exact ${m.path} [${m.rest}]`))
    .prefix("/a/", (_q, _r, m) => void seen.push(`a/ [${m.rest}]`))
    .prefix("/a/b/", (_q, _r, m) => void seen.push(`a/b/ [${m.rest}]`));
  await call(router, "GET", "/a/b?x=1");
  await call(router, "GET", "/a/b/c/d");
  await call(router, "GET", "/a/z");
  assert.deepEqual(seen, ["exact /a/b []", "a/b/ [c/d]", "a/ [z]"]);
  assert.equal(pathOf("/p?q=/r"), "/p");
  assert.equal(pathOf(undefined), "/");
});

test("each group answers its errors in its own shape; unknown paths in the router's", async () => {
  const router = new Router({ formatError: json });
  router.group({ name: "plain", formatError: text }).route("/plain", () => {
    throw new BadRequestError("bad header");
  });
  router.group({ name: "own" }).route("/own", () => {
    throw new BadRequestError("bad body");
  });
  const plain = await call(router, "POST", "/plain");
  assert.equal(plain.status, 400);
  assert.equal(plain.body, "bad header\n");
  const own = await call(router, "POST", "/own");
  assert.deepEqual(JSON.parse(own.body), { error: { code: "BAD_REQUEST", message: "bad body" } });
  const missing = await call(router, "GET", "/nope?x");
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body).error.message, "no route GET /nope");
  // an error that is not ours answers 500 without its message
  router.group({ name: "bug" }).route("/bug", () => {
    throw new Error("secret detail");
  });
  const bug = await call(router, "GET", "/bug");
  assert.equal(bug.status, 500);
  assert.ok(!bug.body.includes("secret"));
});

test("a method a route does not take answers 405 with Allow, in the group's shape, before its auth hook", async () => {
  let authChecked = 0;
  const router = new Router({ formatError: json });
  router
    .group({
      name: "operator",
      formatError: text,
      onRequest: () => {
        authChecked++;
        throw new BadRequestError("invalid authorization");
      },
    })
    .route("/register", () => assert.fail("refused by the hook"), { methods: ["POST"] });
  const get = await call(router, "GET", "/register");
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, "POST");
  assert.equal(get.body, "Method not allowed\n");
  assert.equal(authChecked, 0);
  const post = await call(router, "POST", "/register");
  assert.equal(post.status, 400);
  assert.equal(post.body, "invalid authorization\n");
  assert.equal(authChecked, 1);
  assert.ok(new MethodNotAllowedError(["GET"]).status === 405);
});

test("hooks run in order: router then group on the way in, group then router on errors; onResponse always", async () => {
  const order: string[] = [];
  const router = new Router({
    formatError: json,
    onRequest: (_q, _r, m) => void order.push(`router.onRequest ${m.group.name}`),
    onError: () => void order.push("router.onError"),
    onResponse: (_q, res, m) => void order.push(`router.onResponse ${m.group.name} ${res.statusCode ?? ""}`),
  });
  router
    .group({
      name: "g",
      onRequest: () => void order.push("group.onRequest"),
      onError: (err) => void order.push(`group.onError ${(err as Error).message}`),
      onResponse: () => void order.push("group.onResponse"),
    })
    .route("/ok", () => void order.push("handler"))
    .route("/fail", () => {
      throw new BadRequestError("no");
    });
  await call(router, "GET", "/ok");
  assert.deepEqual(order.splice(0), [
    "router.onRequest g",
    "group.onRequest",
    "handler",
    "group.onResponse",
    "router.onResponse g ",
  ]);
  await call(router, "GET", "/fail");
  assert.deepEqual(order.splice(0), [
    "router.onRequest g",
    "group.onRequest",
    "group.onError no",
    "router.onError",
    "group.onResponse",
    "router.onResponse g ",
  ]);
  await call(router, "GET", "/missing");
  assert.deepEqual(order.splice(0), [
    "router.onRequest router",
    "router.onError",
    "router.onResponse router ",
  ]);
});

test("around scopes the whole request, not-found answers included (a trace id in an AsyncLocalStorage)", async () => {
  const als = new AsyncLocalStorage<string>();
  const seen: (string | undefined)[] = [];
  const router = new Router({
    formatError: (res, err) => {
      seen.push(als.getStore());
      json(res, err, {} as NodeRequest);
    },
    around: (req, res, next) => {
      res.setHeader("X-Trace-Id", `t-${req.url}`);
      return als.run(`t-${req.url}`, next);
    },
  });
  router.group({ name: "g" }).route("/x", async () => {
    await Promise.resolve();
    seen.push(als.getStore());
  });
  const x = await call(router, "GET", "/x");
  const y = await call(router, "GET", "/y");
  assert.deepEqual(seen, ["t-/x", "t-/y"]);
  assert.equal(x.headers["x-trace-id"], "t-/x");
  assert.equal(y.status, 404);
});

test("an error after the answer started destroys the response; a failing metrics hook does not fail the request", async () => {
  const router = new Router({
    formatError: json,
    onResponse: () => {
      throw new Error("metrics down");
    },
  });
  router.group({ name: "g" }).route("/half", (_q, res) => {
    (res as ServerResponse).writeHead(200);
    throw new Error("cut");
  });
  const half = await call(router, "GET", "/half");
  assert.equal(half.status, 200);
  assert.ok(half.destroyed);
});

test("a path or prefix given twice is refused at set-up", () => {
  const router = new Router({ formatError: json });
  const g = router.group({ name: "g" });
  g.route("/a", () => {}).prefix("/p/", () => {});
  assert.throws(() => g.route("/a", () => {}), /given twice/);
  assert.throws(() => router.group({ name: "h" }).prefix("/p/", () => {}), /given twice/);
  assert.throws(() => g.route("a", () => {}), /must start with/);
});
