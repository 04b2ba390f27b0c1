import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import {
  BASE_STYLESHEET,
  createStaticPage,
  pageCsp,
  pageHead,
  type StaticPageOptions,
} from "./static-page.ts";

describe("static page", () => {
  let dir: string;
  let server: Server;
  let url: string;
  const routed: string[] = [];

  const options = (over: Partial<StaticPageOptions> = {}): StaticPageOptions => ({
    name: "test page",
    dir: pathToFileURL(`${dir}/`),
    path: "/p",
    assets: "/p/assets/",
    html: "page.html",
    vars: { NAME: "x-y" },
    files: ["app.js", "page.css"],
    csp: ["media-src 'self'"],
    route: (req, res, path) => {
      routed.push(`${req.method} ${path}`);
      if (path !== "/p/assets/data") return false;
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("data");
      return true;
    },
    ...over,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tributary-static-page-"));
    writeFileSync(
      join(dir, "page.html"),
      '<!doctype html>\n<head>\n{{HEAD}}\n<title>T</title>\n</head>\n<body data-n="{{NAME}}"></body>\n',
    );
    writeFileSync(join(dir, "app.js"), "export {};\n");
    writeFileSync(join(dir, "page.css"), "p { margin: 0; }\n");
    writeFileSync(join(dir, "other.txt"), "?");
    writeFileSync(join(dir, "bare.html"), "<!doctype html>\n");
    writeFileSync(join(dir, "twice.html"), "{{HEAD}}{{HEAD}}");
    const page = createStaticPage(options());
    server = createServer((req, res) => {
      if (!page.handle(req, res)) {
        res.writeHead(418);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test("the HTML at the path and with a slash: the shared head, the variables, the page's CSP", async () => {
    for (const path of ["/p", "/p/", "/p?x=1"]) {
      const res = await fetch(url + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.equal(res.headers.get("content-security-policy"), pageCsp(["media-src 'self'"]));
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("referrer-policy"), "no-referrer");
      const html = await res.text();
      assert.equal(
        html,
        `<!doctype html>\n<head>\n${pageHead("/p/assets/")}\n<title>T</title>\n</head>\n<body data-n="x-y"></body>\n`,
      );
      assert.match(html, /<head>\n<meta charset="utf-8">\n/);
      assert.match(html, /<link rel="stylesheet" href="\/p\/assets\/base\.css">\n<title>/);
    }
  });

  test("its files and the shared stylesheet under the assets prefix, with their types, no CSP", async () => {
    for (const [name, type, body] of [
      ["app.js", "text/javascript; charset=utf-8", "export {};\n"],
      ["page.css", "text/css; charset=utf-8", "p { margin: 0; }\n"],
      [
        BASE_STYLESHEET,
        "text/css; charset=utf-8",
        readFileSync(new URL(`./static/${BASE_STYLESHEET}`, import.meta.url), "utf8"),
      ],
    ]) {
      const res = await fetch(`${url}/p/assets/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get("content-type"), type);
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.equal(res.headers.get("content-security-policy"), null);
      assert.equal(res.headers.get("x-frame-options"), null);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(await res.text(), body);
    }
  });

  test("HEAD answers the headers only", async () => {
    const res = await fetch(`${url}/p/assets/app.js`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String("export {};\n".length));
    assert.equal(await res.text(), "");
  });

  test("other methods answer 405 with Allow, before the page's routes", async () => {
    routed.length = 0;
    for (const path of ["/p", "/p/assets/app.js", "/p/assets/data"]) {
      const res = await fetch(url + path, { method: "POST", body: "x".repeat(100_000) });
      assert.equal(res.status, 405, path);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
      assert.deepEqual(await res.json(), {
        error: { code: "METHOD_NOT_ALLOWED", message: "POST is not allowed on the test page; use GET" },
      });
    }
    assert.deepEqual(routed, []);
  });

  test("the page's routes answer the rest under the prefix; what they leave is a JSON 404", async () => {
    routed.length = 0;
    const data = await fetch(`${url}/p/assets/data?q=1`);
    assert.equal(await data.text(), "data");
    const missing = await fetch(`${url}/p/assets/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("cache-control"), "no-store");
    assert.deepEqual(await missing.json(), {
      error: { code: "NOT_FOUND", message: "no test page resource at /p/assets/nope" },
    });
    const unlisted = await fetch(`${url}/p/assets/other.txt`);
    assert.equal(unlisted.status, 404);
    await unlisted.text();
    assert.deepEqual(routed, ["GET /p/assets/data", "GET /p/assets/nope", "GET /p/assets/other.txt"]);
  });

  test("paths that are not the page's are left to the caller", async () => {
    for (const path of ["/", "/px", "/p/x", "/p/assets", "/other/p"]) {
      const res = await fetch(url + path);
      assert.equal(res.status, 418, path);
      await res.text();
    }
  });

  test("a page without {{HEAD}} or with two, its own file named like the shared stylesheet, an unknown type", () => {
    for (const html of ["bare.html", "twice.html"])
      assert.throws(() => createStaticPage(options({ html })), /must hold \{\{HEAD\}\} once/);
    assert.throws(() => createStaticPage(options({ files: [BASE_STYLESHEET] })), RangeError);
    assert.throws(() => createStaticPage(options({ files: ["other.txt"] })), /no content type/);
  });

  test("the strict CSP, and a page's extra directives before the last three", () => {
    assert.equal(
      pageCsp(),
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    assert.equal(
      pageCsp(["media-src 'self' blob: mediastream:"]),
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
        "media-src 'self' blob: mediastream:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });

  test("the shared head and stylesheet load nothing from another origin", () => {
    const css = readFileSync(new URL(`./static/${BASE_STYLESHEET}`, import.meta.url), "utf8");
    for (const text of [pageHead("/p/"), css]) {
      assert.doesNotMatch(text, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
      assert.doesNotMatch(text, /@import|\burl\(/);
    }
  });
});
