/**
 * The trickle conformance suite: every server behaviour of docs/spec/trickle.md (#routes to #keepalives-on-sparse-channels, #behaviours-the-conformance-suite-checks; docs/spec/upstream-quirks.md#trickle),
 * exercised over raw HTTP and through our publisher and subscriber clients, against any target server.
 *
 * `trickleConformance(target)` registers node:test tests. A target starts a server (with optional
 * configuration it may or may not be able to honour) and says how clients must talk to it. Targets run
 * with autocreate ON (the standalone default) unless a case asks otherwise. Cases that need a
 * configuration a target cannot apply are skipped with the reason; nothing else is skipped.
 *
 * Raw requests go through the suite's own thin transport (TrickleHttpClient: node:http, or node:http2
 * for HTTP/2 targets), so the same cases run over HTTP/1.1 and HTTP/2.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  TrickleEndOfStreamError,
  TrickleStreamNotFoundError,
  TrickleSubscribeError,
} from "../../src/trickle/client-errors.ts";
import {
  readBytes,
  readText,
  TrickleHttpClient,
  type TrickleRequest,
  type TrickleTlsOptions,
} from "../../src/trickle/http-client.ts";
import { TricklePublisher } from "../../src/trickle/publisher.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import { until } from "../until.ts";

/** Server configuration a case may ask for. */
export interface TrickleTargetConfig {
  /** Create channels on demand (POST). The suite's default instance asks for true. */
  autocreate?: boolean;
  /** Interval of 100 Continue keepalives while a POST waits for its first byte. */
  continueIntervalMs?: number;
  /** Idle timeout and sweep interval of the channel sweeper. */
  idleTimeoutMs?: number;
  sweepIntervalMs?: number;
  /** Base path of the routes (default "/"); the instance's baseUrl must end with it. */
  basePath?: string;
  /** Publish channel additions and removals on the `_changes` channel. */
  changefeed?: boolean;
  /**
   * Install create/delete hooks that refuse channels named `deny<status>-…`: a 4xx status is a request
   * error answered with that status; a 5xx status is a generic hook failure (answered 500).
   */
  hooks?: boolean;
}

/** What a target can configure; cases needing anything else are skipped with a reason. */
export interface TrickleTargetConfigurable {
  autocreate?: boolean;
  continueInterval?: boolean;
  idleSweep?: boolean;
  hooks?: boolean;
  basePath?: boolean;
  changefeed?: boolean;
}

/** Optional server features; absent means supported. */
export interface TrickleTargetFeatures {
  /** `GET {ch}/next` (go-livepeer #3925). */
  next?: boolean;
  /** `Lp-Trickle-Reset` (go-livepeer #3990). */
  reset?: boolean;
  /** `POST {ch}` channel create. */
  channelCreate?: boolean;
  /** Odd channel names (percent-encoded slash, NUL, over-long) get a 4xx. go-livepeer accepts them. */
  strictChannelNames?: boolean;
  /** `DELETE {ch}/{negative idx}` answers 400. go-livepeer panics and drops the connection (docs/spec/upstream-quirks.md#negative-sequence-numbers). */
  safeNegativeDelete?: boolean;
}

/** A running target server. */
export interface TrickleTargetInstance {
  /** Base URL of the trickle routes, ending with "/" (e.g. `http://127.0.0.1:1234/`). */
  baseUrl: string;
  close(): Promise<void>;
  features?: TrickleTargetFeatures;
  /** How clients must connect (HTTP/2, TLS trust). */
  client?: { http2?: boolean; tls?: TrickleTlsOptions };
  /** Creates a channel in-process, bypassing autocreate (go-livepeer `LocalPublisher.CreateChannel`). */
  createChannel?(name: string, mimeType: string): Promise<void>;
}

/** A server implementation under test. */
export interface TrickleTarget {
  name: string;
  /** Which configuration options {@link start} honours. */
  configurable?: TrickleTargetConfigurable;
  start(config: TrickleTargetConfig): Promise<TrickleTargetInstance>;
}

let channelCounter = 0;
/** A fresh channel name; tests never share channels. */
function uniqueChannel(prefix = "conf"): string {
  channelCounter += 1;
  return `${prefix}-${process.pid}-${channelCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

const enc = (s: string) => new TextEncoder().encode(s);
/** Time given to a request to reach the server before a racing request (Go's tests sleep likewise). */
const SETTLE_MS = 200;

interface RawResult {
  status: number;
  headers: Headers;
  text: string;
}

/** Raw HTTP against one instance. */
class Raw {
  readonly base: string;
  readonly client: TrickleHttpClient;
  readonly instance: TrickleTargetInstance;
  constructor(instance: TrickleTargetInstance) {
    this.instance = instance;
    this.base = instance.baseUrl.endsWith("/") ? instance.baseUrl : `${instance.baseUrl}/`;
    this.client = new TrickleHttpClient({
      ...(instance.client?.http2 ? { http2: true } : {}),
      ...(instance.client?.tls ? { tls: instance.client.tls } : {}),
    });
  }
  get clientOptions() {
    return {
      ...(this.instance.client?.http2 ? { http2: true } : {}),
      ...(this.instance.client?.tls ? { tls: this.instance.client.tls } : {}),
    };
  }
  url(path: string): string {
    return `${this.base}${path}`;
  }
  /** A whole request: status, headers, body text. */
  async req(method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}) {
    const r = this.client.request(this.url(path), {
      method,
      headers: opts.headers ?? {},
      body: opts.body === undefined ? (method === "POST" ? new Uint8Array(0) : undefined) : enc(opts.body),
    });
    const res = await r.response;
    return { status: res.status, headers: res.headers, text: await readText(res.body) } satisfies RawResult;
  }
  /** A request whose response is returned with its body unread. */
  open(method: string, path: string, headers: Record<string, string> = {}): TrickleRequest {
    return this.client.request(this.url(path), { method, headers });
  }
  /** A streaming POST: headers go out now, body chunks with `write`. */
  post(
    path: string,
    headers: Record<string, string> = {},
    onInterim?: (status: number) => void,
  ): TrickleRequest {
    return this.client.request(this.url(path), {
      method: "POST",
      headers: { "content-type": "text/plain", ...headers },
      body: "stream",
      ...(onInterim ? { onInterim } : {}),
    });
  }
  /** Publishes one whole segment. */
  async publish(ch: string, seq: number | string, body: string, headers: Record<string, string> = {}) {
    return this.req("POST", `${ch}/${seq}`, { headers: { "content-type": "text/plain", ...headers }, body });
  }
  close(): void {
    this.client.close();
  }
}

/** Reads the next chunk of a streaming body as text. */
async function nextChunk(it: AsyncIterator<Uint8Array>): Promise<string> {
  const r = await it.next();
  assert.equal(r.done, false, "expected more body bytes");
  return Buffer.from(r.value).toString();
}

async function restText(it: AsyncIterator<Uint8Array>): Promise<string> {
  let out = "";
  for (;;) {
    const r = await it.next();
    if (r.done) return out;
    out += Buffer.from(r.value).toString();
  }
}

/** The time limit of a wait for a condition (a safety net, not a timing assertion). */
const WAIT_MS = 5000;

/**
 * Registers the conformance tests for one target. Call at the top level of a test file.
 */
export function trickleConformance(target: TrickleTarget): void {
  describe(`trickle conformance: ${target.name}`, () => {
    let inst: TrickleTargetInstance;
    let raw: Raw;
    const extra: Array<{ inst: TrickleTargetInstance; raw: Raw }> = [];
    const feature = (f: keyof TrickleTargetFeatures) => inst.features?.[f] !== false;

    before(async () => {
      inst = await target.start({ autocreate: true });
      raw = new Raw(inst);
    });
    after(async () => {
      for (const e of extra) {
        e.raw.close();
        await e.inst.close();
      }
      raw?.close();
      await inst?.close();
    });
    /** Starts an extra instance with a configuration; closed after the suite. */
    async function startWith(config: TrickleTargetConfig) {
      const i = await target.start(config);
      const r = new Raw(i);
      extra.push({ inst: i, raw: r });
      return r;
    }
    const can = (k: keyof TrickleTargetConfigurable) => target.configurable?.[k] === true;
    /**
     * Waits until the server has the first byte of segment `seq` (its /next moved past it): requests on
     * other connections may otherwise overtake a POST on a multi-threaded server.
     */
    async function started(ch: string, seq: number, via: Raw = raw): Promise<void> {
      if (!feature("next")) return void (await sleep(SETTLE_MS));
      await until(
        `${ch}/next past ${seq}`,
        async () => {
          const r = await via.req("GET", `${ch}/next`);
          return r.status === 200 && Number(r.text.trim()) > seq;
        },
        WAIT_MS,
      );
    }
    const why = (what: string) => `${target.name} cannot configure ${what}`;

    // ---- channel create and 404 contracts (docs/spec/trickle.md#routes, #behaviours-the-conformance-suite-checks: CreateContract / Delete) ---------------------

    test("POST {ch} creates a channel with autocreate on; its Expect-Content is the GET Content-Type", async (t) => {
      if (!feature("channelCreate")) return t.skip("target has no POST {ch}");
      const ch = uniqueChannel();
      const created = await raw.req("POST", ch, { headers: { "expect-content": "application/json" } });
      assert.equal(created.status, 200);
      assert.equal(
        (await raw.req("POST", ch, { headers: { "expect-content": "application/json" } })).status,
        200,
      );
      assert.equal((await raw.publish(ch, 0, '{"a":1}', { "content-type": "text/plain" })).status, 200);
      const got = await raw.req("GET", `${ch}/0`);
      assert.equal(got.status, 200);
      assert.equal(got.text, '{"a":1}');
      assert.match(got.headers.get("content-type") ?? "", /^application\/json/);
    });

    test("the first POST of a segment auto-creates the channel with the POST's Content-Type", async () => {
      const ch = uniqueChannel();
      const res = await raw.publish(ch, 0, "hello", { "content-type": "video/MP2T" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("lp-trickle-seq"), "0");
      const got = await raw.req("GET", `${ch}/0`);
      assert.equal(got.text, "hello");
      assert.equal(got.headers.get("content-type"), "video/MP2T");
      assert.equal(got.headers.get("lp-trickle-seq"), "0");
      // Later POSTs do not change the channel's MIME type.
      await raw.publish(ch, 1, "again", { "content-type": "text/plain" });
      assert.equal((await raw.req("GET", `${ch}/1`)).headers.get("content-type"), "video/MP2T");
    });

    test("with autocreate off, POST {ch} and POST {ch}/0 answer 404 and create nothing", async (t) => {
      if (!can("autocreate")) return t.skip(why("autocreate"));
      const r = await startWith({ autocreate: false });
      const ch = uniqueChannel();
      if (feature("channelCreate")) assert.equal((await r.req("POST", ch)).status, 404);
      const post = await r.publish(ch, 0, "x");
      assert.equal(post.status, 404);
      if (!r.instance.client?.http2) assert.equal(post.headers.get("connection"), "close");
      assert.equal((await r.req("GET", `${ch}/0`)).status, 404);
      if (r.instance.createChannel) {
        await r.instance.createChannel(ch, "text/plain");
        if (feature("channelCreate")) assert.equal((await r.req("POST", ch)).status, 200, "existing channel");
        assert.equal((await r.publish(ch, 0, "now")).status, 200);
        assert.equal((await r.req("GET", `${ch}/0`)).text, "now");
      }
    });

    test("an unknown channel: GET, DELETE {ch}/{seq} and /next answer 404; DELETE {ch} answers 400", async () => {
      const ch = uniqueChannel();
      assert.equal((await raw.req("GET", `${ch}/0`)).status, 404);
      assert.equal((await raw.req("GET", `${ch}/-1`)).status, 404);
      assert.equal((await raw.req("DELETE", `${ch}/0`)).status, 404);
      if (feature("next")) assert.equal((await raw.req("GET", `${ch}/next`)).status, 404);
      assert.equal((await raw.req("DELETE", ch)).status, 400);
      // GET never creates a channel, even with autocreate on.
      assert.equal((await raw.req("GET", `${ch}/0`)).status, 404);
    });

    test("DELETE {ch} closes the channel; later GET and /next answer 404", async () => {
      const ch = uniqueChannel();
      assert.equal((await raw.publish(ch, 0, "a")).status, 200);
      assert.equal((await raw.req("DELETE", ch)).status, 200);
      assert.equal((await raw.req("GET", `${ch}/0`)).status, 404);
      if (feature("next")) assert.equal((await raw.req("GET", `${ch}/next`)).status, 404);
      assert.equal((await raw.req("DELETE", ch)).status, 400);
    });

    // ---- publish, read back, starts (docs/spec/trickle.md#sequence-numbers, #subscribe-lifecycle) ---------------------------------------------------

    test("segments publish and read back with Lp-Trickle-Seq and Latest = next write seq", async () => {
      const ch = uniqueChannel();
      for (const [i, s] of ["zero", "one", "two"].entries()) {
        const r = await raw.publish(ch, i, s);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("lp-trickle-seq"), String(i));
      }
      for (const [i, s] of ["zero", "one", "two"].entries()) {
        const g = await raw.req("GET", `${ch}/${i}`);
        assert.equal(g.status, 200);
        assert.equal(g.text, s);
        assert.equal(g.headers.get("lp-trickle-seq"), String(i));
        assert.equal(g.headers.get("lp-trickle-latest"), "3");
        assert.equal(g.headers.get("lp-trickle-closed"), null);
      }
    });

    test("POST -1 writes at the next write seq and echoes it in Lp-Trickle-Seq", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      await raw.publish(ch, 1, "b");
      const r = await raw.publish(ch, -1, "c");
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("lp-trickle-seq"), "2");
      assert.equal((await raw.req("GET", `${ch}/2`)).text, "c");
    });

    test("GET -2 serves the segment being written from byte 0", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "done");
      const p = raw.post(`${ch}/1`);
      await p.write(enc("key"), 5000);
      await until(
        "Lp-Trickle-Latest 2",
        async () => (await raw.req("GET", `${ch}/0`)).headers.get("lp-trickle-latest") === "2",
        WAIT_MS,
      );
      const get = raw.open("GET", `${ch}/-2`);
      const res = await get.response;
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("lp-trickle-seq"), "1");
      assert.equal(res.headers.get("lp-trickle-latest"), "2");
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "key");
      await p.write(enc("frame"), 5000);
      p.end();
      assert.equal((await p.response).status, 200);
      assert.equal(await restText(it), "frame");
    });

    test("GET -2 on a channel with nothing written waits for segment 0", async (t) => {
      if (!feature("channelCreate")) return t.skip("target has no POST {ch} to make an empty channel");
      const ch = uniqueChannel();
      assert.equal((await raw.req("POST", ch, { headers: { "expect-content": "text/plain" } })).status, 200);
      const get = raw.open("GET", `${ch}/-2`);
      await sleep(SETTLE_MS);
      await raw.publish(ch, 0, "first");
      const res = await get.response;
      assert.equal(res.headers.get("lp-trickle-seq"), "0");
      assert.equal(await readText(res.body), "first");
    });

    test("GET -1 waits for the next segment to start and serves it", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "old");
      const get = raw.open("GET", `${ch}/-1`);
      await sleep(SETTLE_MS);
      await raw.publish(ch, 1, "new");
      const res = await get.response;
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("lp-trickle-seq"), "1");
      assert.equal(await readText(res.body), "new");
    });

    test("Latest is omitted when the served segment is the next write seq (a GET that waited for it)", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      const get = raw.open("GET", `${ch}/1`);
      await sleep(SETTLE_MS);
      await raw.publish(ch, 1, "b");
      const res = await get.response;
      assert.equal(res.headers.get("lp-trickle-seq"), "1");
      assert.equal(res.headers.get("lp-trickle-latest"), null);
      assert.equal(await readText(res.body), "b");
    });

    test("a subscriber receives bytes while the publisher is still writing the segment", async () => {
      const ch = uniqueChannel();
      const p = raw.post(`${ch}/0`);
      await p.write(enc("part1"), 5000);
      await started(ch, 0);
      const res = await raw.open("GET", `${ch}/0`).response;
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "part1");
      assert.equal(p.responded, false, "the POST is still open");
      await p.write(enc("part2"), 5000);
      assert.equal(await nextChunk(it), "part2");
      p.end();
      assert.equal((await p.response).status, 200);
      assert.equal(await restText(it), "");
    });

    // ---- missing segments (docs/spec/trickle.md#subscribe-lifecycle; docs/spec/upstream-quirks.md#precreate-grace, #ring-of-five) -----------------------------------------------------

    test("470 with Latest and Seq for a segment evicted from the 5-slot ring", async () => {
      const ch = uniqueChannel();
      for (let i = 0; i < 7; i++) await raw.publish(ch, i, `s${i}`);
      const old = await raw.req("GET", `${ch}/1`);
      assert.equal(old.status, 470);
      assert.equal(old.headers.get("lp-trickle-latest"), "7");
      assert.equal(old.headers.get("lp-trickle-seq"), "1");
      assert.match(old.text, /Entry not found/);
      assert.equal((await raw.req("GET", `${ch}/2`)).text, "s2", "the last 5 segments stay readable");
    });

    test("470 for a segment too far ahead; the precreate grace covers nextWrite and (0, 1) only", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "zero"); // nextWrite = 1
      for (const seq of [2, 9]) {
        const ahead = await raw.req("GET", `${ch}/${seq}`);
        assert.equal(ahead.status, 470, `GET ${seq}`);
        assert.equal(ahead.headers.get("lp-trickle-latest"), "1");
        assert.equal(ahead.headers.get("lp-trickle-seq"), String(seq));
        assert.equal(ahead.headers.get("lp-trickle-closed"), null);
      }
      if (feature("channelCreate")) {
        const fresh = uniqueChannel();
        assert.equal(
          (await raw.req("POST", fresh, { headers: { "expect-content": "text/plain" } })).status,
          200,
        );
        // nextWrite == 0: seq 1 is in the grace, seq 2 is not.
        assert.equal((await raw.req("GET", `${fresh}/2`)).status, 470);
        const waiting = raw.open("GET", `${fresh}/1`);
        await sleep(SETTLE_MS);
        assert.equal(waiting.responded, false, "GET 1 on an empty channel waits");
        await raw.publish(fresh, 0, "zero");
        await raw.publish(fresh, 1, "one");
        assert.equal(await readText((await waiting.response).body), "one");
      }
    });

    test("an empty segment: 200, Seq 0, Latest 1, no Closed, empty body (TestTrickle_EmptySegment)", async () => {
      const ch = uniqueChannel();
      const p = raw.post(`${ch}/0`);
      p.end();
      const r = await p.response;
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("lp-trickle-seq"), "0");
      await readText(r.body);
      const g = await raw.req("GET", `${ch}/0`);
      assert.equal(g.status, 200);
      assert.equal(g.headers.get("lp-trickle-seq"), "0");
      assert.equal(g.headers.get("lp-trickle-latest"), "1");
      assert.equal(g.headers.get("lp-trickle-closed"), null);
      assert.equal(g.text, "");
    });

    // ---- close and end of stream (docs/spec/trickle.md#headers, #subscribe-lifecycle; docs/spec/upstream-quirks.md#end-of-stream-with-status-200) ---------------------------------------------------

    test("closing the channel answers waiting GETs and preconnected POSTs with 200 + Lp-Trickle-Closed", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      const waitingGet = raw.open("GET", `${ch}/1`);
      const preconnect = raw.post(`${ch}/1`);
      await sleep(SETTLE_MS);
      assert.equal((await raw.req("DELETE", ch)).status, 200);
      const g = await waitingGet.response;
      assert.equal(g.headers.get("lp-trickle-closed"), "terminated");
      assert.equal(g.status, 200);
      assert.equal(await readText(g.body), "");
      const p = await preconnect.response;
      assert.equal(p.headers.get("lp-trickle-closed"), "terminated");
      assert.equal(p.status, 200);
      assert.equal(p.headers.get("lp-trickle-seq"), "1");
      if (!inst.client?.http2) assert.equal(p.headers.get("connection"), "close", "wakes HTTP/1.1 clients");
      p.discard();
    });

    test("DELETE {ch}/{seq} closes one segment: its waiting subscriber ends with the partial bytes", async () => {
      const ch = uniqueChannel();
      const p = raw.post(`${ch}/0`);
      await p.write(enc("partial"), 5000);
      await started(ch, 0);
      const res = await raw.open("GET", `${ch}/0`).response;
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "partial");
      assert.equal((await raw.req("DELETE", `${ch}/0`)).status, 200);
      assert.equal(await restText(it), "");
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "partial");
      p.abort();
      assert.equal((await raw.req("DELETE", `${ch}/3`)).status, 400, "nonexistent segment");
    });

    // ---- Reset and append (docs/spec/trickle.md#headers, #publish-lifecycle; Reset / PublisherReset) ---------------------------------------

    test("Lp-Trickle-Reset unblocks subscribers of older segments, keeps their bytes, writes at nextWrite", async (t) => {
      if (!feature("reset")) return t.skip("target has no Lp-Trickle-Reset");
      const ch = uniqueChannel();
      const p0 = raw.post(`${ch}/0`);
      await p0.write(enc("Hello"), 5000);
      await started(ch, 0);
      const res = await raw.open("GET", `${ch}/0`).response;
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "Hello");
      // A subscriber already waiting at the reset's target seq (nextWrite) is not released by it.
      const waitingAtTarget = raw.open("GET", `${ch}/1`);
      await sleep(SETTLE_MS);
      const reset = await raw.publish(ch, -1, "after-reset", { "lp-trickle-reset": "true" });
      assert.equal(reset.status, 200);
      assert.equal(reset.headers.get("lp-trickle-seq"), "1");
      assert.equal(await restText(it), "", "the blocked reader of segment 0 is released");
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "Hello");
      assert.equal((await raw.req("GET", `${ch}/1`)).text, "after-reset");
      assert.equal(await readText((await waitingAtTarget.response).body), "after-reset");
      p0.abort();
    });

    test("a second POST to the same seq appends to it (TestTrickle_Reset: HelloGoodbyWorld)", async () => {
      const ch = uniqueChannel();
      const a = raw.post(`${ch}/0`);
      await a.write(enc("Hello"), 5000);
      await started(ch, 0);
      const res = await raw.open("GET", `${ch}/0`).response;
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "Hello");
      const b = raw.post(`${ch}/0`);
      await b.write(enc("GoodbyWorld"), 5000);
      assert.equal(await nextChunk(it), "GoodbyWorld");
      b.end();
      a.end();
      assert.equal((await b.response).status, 200);
      assert.equal((await a.response).status, 200);
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "HelloGoodbyWorld");
    });

    // ---- /next (docs/spec/trickle.md#routes) -------------------------------------------------------------------------------

    test("GET {ch}/next returns the next write seq as text and in Lp-Trickle-Latest", async (t) => {
      if (!feature("next")) return t.skip("target has no /next");
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      await raw.publish(ch, 1, "b");
      const n = await raw.req("GET", `${ch}/next`);
      assert.equal(n.status, 200);
      assert.equal(n.text.trim(), "2");
      assert.equal(n.headers.get("lp-trickle-latest"), "2");
      assert.equal(n.headers.get("lp-trickle-closed"), null);
      // nextWrite moves on the first byte of a segment, before it completes (docs/spec/trickle.md#sequence-numbers).
      const p = raw.post(`${ch}/2`);
      await p.write(enc("x"), 5000);
      await until("next 3", async () => (await raw.req("GET", `${ch}/next`)).text.trim() === "3", WAIT_MS);
      p.end();
      await p.response;
    });

    test("seq advances on 0-byte writes; a preconnect ended without data is an empty segment", async (t) => {
      if (!feature("next")) return t.skip("target has no /next");
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      const pre = raw.post(`${ch}/1`);
      await sleep(SETTLE_MS);
      pre.end();
      assert.equal((await pre.response).headers.get("lp-trickle-seq"), "1");
      assert.equal((await raw.req("GET", `${ch}/next`)).text.trim(), "2");
      const g = await raw.req("GET", `${ch}/1`);
      assert.equal(g.status, 200);
      assert.equal(g.text, "");
    });

    // ---- keepalives (docs/spec/trickle.md#publish-lifecycle; docs/spec/upstream-quirks.md#repeated-100-continue) ------------------------------------------------------------------

    test("a POST waiting for its first byte gets repeated 100 Continue keepalives, then completes", async (t) => {
      if (!can("continueInterval")) {
        return t.skip(`${why("the 100 Continue interval")}; the default 10 s is too slow for this suite`);
      }
      const r = await startWith({ autocreate: true, continueIntervalMs: 50 });
      const ch = uniqueChannel();
      let interim = 0;
      const p = r.post(`${ch}/0`, {}, (status) => {
        if (status === 100) interim++;
      });
      await until("two interim 100 responses", () => interim >= 2, WAIT_MS);
      await p.write(enc("late"), 5000);
      p.end();
      const res = await p.response;
      assert.equal(res.status, 200);
      res.discard();
      assert.equal((await r.req("GET", `${ch}/0`)).text, "late");
      // Our publisher tolerates the same keepalives.
      await using pub = new TricklePublisher(r.url(uniqueChannel()), r.clientOptions);
      const w = await pub.next();
      await sleep(200);
      await w.write(enc("x"));
      assert.equal((await w.end()).seq, 0);
    });

    // ---- bad input (docs/spec/trickle.md#routes; docs/spec/upstream-quirks.md#channel-names, #negative-sequence-numbers) ----------------------------------------------------------

    test("a non-integer or out-of-range seq answers 400", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      for (const bad of ["abc", "1.5", "0x1", "1e3", "99999999999999999999"]) {
        assert.equal((await raw.req("GET", `${ch}/${bad}`)).status, 400, `GET ${bad}`);
        assert.equal((await raw.publish(ch, bad, "x")).status, 400, `POST ${bad}`);
        assert.equal((await raw.req("DELETE", `${ch}/${bad}`)).status, 400, `DELETE ${bad}`);
      }
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "a", "the server is still healthy");
    });

    test("DELETE {ch}/{negative seq} answers 400", async (t) => {
      if (inst.features?.safeNegativeDelete === false) {
        return t.skip(
          "the target panics on a negative DELETE idx (go-livepeer, docs/spec/upstream-quirks.md#negative-sequence-numbers)",
        );
      }
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      assert.equal((await raw.req("DELETE", `${ch}/-1`)).status, 400);
      assert.equal((await raw.req("DELETE", `${ch}/-2`)).status, 400);
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "a", "the server is still healthy");
    });

    test("paths outside the routes answer 4xx", async () => {
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "a");
      const extraSeg = await raw.req("GET", `${ch}/0/extra`);
      assert.ok(extraSeg.status >= 400 && extraSeg.status < 500, `extra segment: ${extraSeg.status}`);
      const badMethod = await raw.req("PUT", `${ch}/0`, { body: "x" });
      assert.ok(badMethod.status >= 400 && badMethod.status < 500, `PUT: ${badMethod.status}`);
    });

    test("odd channel names answer 4xx", async (t) => {
      if (inst.features?.strictChannelNames === false)
        return t.skip("target accepts any path segment as a name");
      for (const name of ["a%2Fb", "a%00b", "x".repeat(300), "a%20b", "a%3Fb"]) {
        const r = await raw.publish(name, 0, "x");
        assert.ok(r.status >= 400 && r.status < 500, `${name.slice(0, 12)}: ${r.status}`);
      }
    });

    // ---- robustness -------------------------------------------------------------------------------

    test("clients disconnecting mid-segment leave the server healthy", async () => {
      const ch = uniqueChannel();
      const p = raw.post(`${ch}/0`);
      await p.write(enc("half"), 5000);
      await started(ch, 0);
      const res = await raw.open("GET", `${ch}/0`).response;
      const it = res.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "half");
      res.discard(); // the reader goes away mid-segment
      p.abort(); // and so does the writer
      await sleep(SETTLE_MS);
      // The failed segment stays open until closed (docs/spec/trickle.md#publish-lifecycle step 7): DELETE it, then it reads back partial.
      assert.equal((await raw.req("DELETE", `${ch}/0`)).status, 200);
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "half");
      const next = await raw.publish(ch, 1, "whole");
      assert.equal(next.status, 200);
      assert.equal((await raw.req("GET", `${ch}/1`)).text, "whole");
      const other = uniqueChannel();
      assert.equal((await raw.publish(other, 0, "ok")).status, 200);
    });

    test("a client whose connection drops mid-POST and mid-GET leaves the server healthy", async () => {
      const ch = uniqueChannel();
      const dropper = new Raw(inst);
      const p = dropper.post(`${ch}/0`);
      await p.write(enc("half"), 5000);
      await started(ch, 0, dropper);
      const res = await dropper.open("GET", `${ch}/0`).response;
      assert.equal(await nextChunk(res.body[Symbol.asyncIterator]()), "half");
      dropper.close(); // every connection of this client is destroyed, the POST body still open
      await sleep(SETTLE_MS);
      assert.equal((await raw.req("DELETE", `${ch}/0`)).status, 200);
      assert.equal((await raw.req("GET", `${ch}/0`)).text, "half");
      assert.equal((await raw.publish(ch, 1, "whole")).status, 200);
      assert.equal((await raw.req("GET", `${ch}/1`)).text, "whole");
    });

    test("large segments round-trip intact across buffer pages, read whole and while growing", async () => {
      const ch = uniqueChannel();
      const total = 3 * 1024 * 1024 + 12345;
      const data = new Uint8Array(total);
      for (let i = 0; i < total; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
      const p = raw.post(`${ch}/0`);
      await p.write(data.subarray(0, 1000), 5000);
      await started(ch, 0);
      const live = raw.open("GET", `${ch}/0`);
      const liveBytes = (async () => readBytes((await live.response).body))();
      // Odd chunk sizes straddle the 32 KiB .. 1 MiB page boundaries.
      let off = 1000;
      let step = 7777;
      while (off < total) {
        const end = Math.min(total, off + step);
        await p.write(data.subarray(off, end), 5000);
        off = end;
        step = (step * 3) % 400_000 || 1;
      }
      p.end();
      assert.equal((await p.response).status, 200);
      assert.deepEqual(Buffer.from(await liveBytes).equals(Buffer.from(data)), true, "live reader");
      const whole = await readBytes((await raw.open("GET", `${ch}/0`).response).body);
      assert.equal(Buffer.from(whole).equals(Buffer.from(data)), true, "complete reader");
    });

    // ---- hooks and sweeper (docs/spec/trickle.md#routes, #channel-lifecycle; BeforeCreate / BeforeDelete / IdleSweep) ---------------------

    test("create and delete hooks refuse with their 4xx status, or 500 for a generic error", async (t) => {
      if (!can("hooks")) return t.skip(why("create/delete hooks"));
      const r = await startWith({ autocreate: true, hooks: true });
      const denied = `deny403-${uniqueChannel()}`;
      if (feature("channelCreate")) {
        assert.equal((await r.req("POST", denied)).status, 403);
        assert.equal((await r.req("GET", `${denied}/0`)).status, 404, "not created");
        assert.equal((await r.req("POST", `deny500-${uniqueChannel()}`)).status, 500);
      }
      const kept = `deny401-${uniqueChannel()}`;
      // A segment POST auto-creates without the create hook (go-livepeer runs it on POST {ch} only).
      assert.equal((await r.publish(kept, 0, "x")).status, 200);
      assert.equal((await r.req("DELETE", kept)).status, 401);
      assert.equal((await r.req("GET", `${kept}/0`)).text, "x", "the channel is still there");
      const ok = uniqueChannel();
      assert.equal((await r.publish(ok, 0, "x")).status, 200);
      assert.equal((await r.req("DELETE", ok)).status, 200);
    });

    test("idle channels are swept and then answer 404 (TestTrickle_IdleSweep)", async (t) => {
      if (!can("idleSweep")) return t.skip(why("the idle sweep"));
      const r = await startWith({ autocreate: true, idleTimeoutMs: 1, sweepIntervalMs: 10 });
      const ch = uniqueChannel();
      const exempt = uniqueChannel("_exempt");
      assert.equal((await r.publish(exempt, 0, "kept")).status, 200);
      assert.equal((await r.publish(ch, 0, "x")).status, 200);
      await until(
        "the idle channel to be swept",
        async () => (await r.req("GET", `${ch}/0`)).status === 404,
        WAIT_MS,
      );
      await sleep(SETTLE_MS);
      assert.equal((await r.req("GET", `${exempt}/0`)).text, "kept", "`_` names are never swept");
      await using sub = new TrickleSubscriber(r.url(ch), { ...r.clientOptions, start: 0 });
      await assert.rejects(sub.next(), TrickleStreamNotFoundError);
    });

    test("routes live under the configured base path only", async (t) => {
      if (!can("basePath")) return t.skip(why("the base path"));
      const r = await startWith({ autocreate: true, basePath: "/ai/trickle/" });
      assert.ok(r.base.endsWith("/ai/trickle/"), r.base);
      const ch = uniqueChannel();
      assert.equal((await r.publish(ch, 0, "based")).status, 200);
      assert.equal((await r.req("GET", `${ch}/0`)).text, "based");
      const origin = new URL(r.base).origin;
      const outside = await r.client.request(`${origin}/${ch}/0`, { method: "GET" }).response;
      outside.discard();
      assert.equal(outside.status, 404);
      await using sub = new TrickleSubscriber(r.url(ch), { ...r.clientOptions, start: 0 });
      assert.equal(await (await sub.next())?.text(), "based");
    });

    test("the _changes feed announces added and removed channels", async (t) => {
      if (!can("changefeed")) return t.skip(why("the changefeed"));
      const r = await startWith({ autocreate: true, changefeed: true });
      await using feed = new TrickleSubscriber(r.url("_changes"), { ...r.clientOptions, start: 0 });
      const ch = uniqueChannel();
      assert.equal((await r.publish(ch, 0, "x")).status, 200);
      assert.equal((await r.req("DELETE", ch)).status, 200);
      const seen: unknown[] = [];
      while (seen.length < 2) {
        const seg = await feed.next();
        assert.ok(seg, "feed ended early");
        assert.match(seg.mimeType ?? "", /application\/json/);
        const msg = JSON.parse(await seg.text()) as { added?: string[]; removed?: string[] };
        if (msg.added?.includes(ch) || msg.removed?.includes(ch)) seen.push(msg);
      }
      assert.deepEqual(seen, [{ added: [ch] }, { removed: [ch] }]);
    });

    // ---- through our clients (docs/spec/trickle.md#publisher-rules to #python-clients) ------------------------------------------------------------

    test("TestTrickle_Close: publish, read back with Latest, close → subscriber EOS, publisher EOS, then 404", async () => {
      const ch = uniqueChannel();
      const url = raw.url(ch);
      const opts = raw.clientOptions;
      const pub = new TricklePublisher(url, { ...opts, mimeType: "text/plain" });
      for (const s of ["first", "second"]) await pub.write(enc(s));
      await using sub = new TrickleSubscriber(url, { ...opts, start: 0 });
      for (const [seq, s] of ["first", "second"].entries()) {
        const seg = await sub.next();
        assert.equal(seg?.seq, seq);
        assert.equal(seg?.latest, 2);
        assert.equal(await seg?.text(), s);
      }
      // Another publisher with a preconnected POST for the next seq, released by the close.
      await using late = new TricklePublisher(url, { ...opts, start: 2 });
      const lateWriter = await late.next();
      await sleep(SETTLE_MS);
      await pub.close();
      assert.equal(await sub.next(), null, "the subscriber sees the end of the stream");
      assert.equal(sub.ended, true);
      await assert.rejects(
        (async () => {
          await lateWriter.write(enc("invalid"));
          await lateWriter.end();
        })(),
        TrickleEndOfStreamError,
      );
      await using sub2 = new TrickleSubscriber(url, opts);
      await assert.rejects(sub2.next(), TrickleStreamNotFoundError);
    });

    test("TestTrickle_Close without autocreate: StreamNotFound before the channel exists, 404 after close", async (t) => {
      if (!can("autocreate")) return t.skip(why("autocreate"));
      const r = await startWith({ autocreate: false });
      if (!r.instance.createChannel) return t.skip(`${target.name} cannot create channels in-process`);
      const ch = uniqueChannel();
      const url = r.url(ch);
      const pub = new TricklePublisher(url, r.clientOptions);
      await assert.rejects(pub.write(enc("first post")), TrickleStreamNotFoundError);
      await r.instance.createChannel(ch, "text/plain");
      // pub was created before the channel: its 404 was terminal.
      await assert.rejects(pub.write(enc("second post")), TrickleStreamNotFoundError, "404 is terminal");
      const pub2 = new TricklePublisher(url, r.clientOptions);
      await pub2.write(enc("first"));
      await pub2.write(enc("second"));
      await using sub = new TrickleSubscriber(url, { ...r.clientOptions, start: 0 });
      assert.equal(await (await sub.next())?.text(), "first");
      assert.equal(await (await sub.next())?.text(), "second");
      await sleep(SETTLE_MS); // let the subscriber's preconnect for seq 2 reach the server
      await pub2.close(); // DELETE {ch}
      assert.equal(await sub.next(), null, "EOS");
      await pub.close();
      await using pub3 = new TricklePublisher(url, r.clientOptions);
      await assert.rejects(pub3.write(enc("bad post")), TrickleStreamNotFoundError);
    });

    test("TestTrickle_SetSubStart: subscribers from 0, -2, -1 and a given seq see the right segments", async () => {
      const ch = uniqueChannel();
      const url = raw.url(ch);
      const opts = raw.clientOptions;
      await raw.req("POST", ch, { headers: { "expect-content": "text/plain" } });
      const collect = async (sub: TrickleSubscriber, n: number) => {
        const out: string[] = [];
        while (out.length < n) {
          const s = await sub.next();
          if (!s) break;
          out.push(await s.text());
        }
        return out;
      };
      await using subBeginning = new TrickleSubscriber(url, { ...opts, start: 0 });
      const beginning = collect(subBeginning, 5);
      await using pub = new TricklePublisher(url, opts);
      await pub.write(enc("zeroth"));
      await pub.write(enc("first"));
      await using subCurrent = new TrickleSubscriber(url, { ...opts, start: -2 });
      const current = collect(subCurrent, 4);
      await using subNext = new TrickleSubscriber(url, { ...opts, start: -1 });
      const next = collect(subNext, 3);
      await sleep(SETTLE_MS);
      for (const s of ["second", "third", "fourth"]) await pub.write(enc(s));
      await using subSeq = new TrickleSubscriber(url, { ...opts, start: 1 });
      const fromOne = collect(subSeq, 4);
      assert.deepEqual(await beginning, ["zeroth", "first", "second", "third", "fourth"]);
      assert.deepEqual(await current, ["first", "second", "third", "fourth"]);
      assert.deepEqual(await next, ["second", "third", "fourth"]);
      assert.deepEqual(await fromOne, ["first", "second", "third", "fourth"]);
    });

    test("TestTrickle_SetSeq: setSeq re-reads from any seq, forwards and backwards", async () => {
      const ch = uniqueChannel();
      const url = raw.url(ch);
      const segs = ["first", "second", "third", "fourth"];
      await using pub = new TricklePublisher(url, raw.clientOptions);
      for (const s of segs) await pub.write(enc(s));
      await using sub = new TrickleSubscriber(url, raw.clientOptions);
      for (let i = 0; i < segs.length; i++) {
        sub.setSeq(i);
        for (let j = i; j < segs.length; j++) assert.equal(await (await sub.next())?.text(), segs[j]);
      }
      for (let j = segs.length - 1; j >= 0; j--) {
        sub.setSeq(j);
        assert.equal(await (await sub.next())?.text(), segs[j]);
      }
    });

    test("OverrunSeq: a subscriber that fell out of the window jumps to Latest on 470", async () => {
      const ch = uniqueChannel();
      const url = raw.url(ch);
      await using pub = new TricklePublisher(url, raw.clientOptions);
      for (let i = 0; i < 7; i++) await pub.write(enc(`s${i}`));
      await using sub = new TrickleSubscriber(url, { ...raw.clientOptions, start: 0 });
      const pending = sub.next();
      await sleep(SETTLE_MS);
      await pub.write(enc("s7"));
      const seg = await pending;
      assert.equal(seg?.seq, 7);
      assert.equal(await seg?.text(), "s7");
      assert.equal(sub.stats.jumps, 1);
    });

    test("the publisher's preconnect and the subscriber's preconnect stream many segments in order", async () => {
      const ch = uniqueChannel();
      const url = raw.url(ch);
      await raw.req("POST", ch, { headers: { "expect-content": "application/octet-stream" } });
      await using pub = new TricklePublisher(url, {
        ...raw.clientOptions,
        mimeType: "application/octet-stream",
      });
      await using sub = new TrickleSubscriber(url, { ...raw.clientOptions, start: -1 });
      const received = (async () => {
        const out: string[] = [];
        for (let i = 0; i < 20; i++) out.push(await (await sub.next())!.text());
        return out;
      })();
      await sleep(SETTLE_MS);
      const sent: string[] = [];
      for (let i = 0; i < 20; i++) {
        const w = await pub.next();
        await w.write(enc(`seg-${i}-a`));
        await w.write(enc(`|b`));
        await w.end();
        sent.push(`seg-${i}-a|b`);
      }
      assert.deepEqual(await received, sent);
      assert.equal(sub.stats.segments, 20);
      assert.equal(pub.stats.segmentsCompleted, 20);
    });

    test('a publisher restarting with start "next" continues after the last seq and unblocks old readers', async (t) => {
      if (!feature("next") || !feature("reset")) return t.skip("target lacks /next or Reset");
      const ch = uniqueChannel();
      const url = raw.url(ch);
      const first = new TricklePublisher(url, raw.clientOptions);
      await first.write(enc("a"));
      const w = await first.next(); // seq 1, left half-written by a "crashed" publisher
      await w.write(enc("partial"));
      const reader = await raw.open("GET", `${ch}/1`).response;
      const it = reader.body[Symbol.asyncIterator]();
      assert.equal(await nextChunk(it), "partial");
      await using second = new TricklePublisher(url, { ...raw.clientOptions, start: "next" });
      assert.equal((await second.write(enc("b"))).seq, 2);
      assert.equal(await restText(it), "", "the reset released the reader of seq 1");
      assert.equal((await second.write(enc("c"))).seq, 3);
      // The crashed publisher is abandoned without a DELETE of the channel.
      await w.abort();
    });

    test("TestTrickle_CancelSub: aborting the signal unblocks a waiting subscriber", async () => {
      const ch = uniqueChannel();
      await raw.req("POST", ch, { headers: { "expect-content": "text/plain" } });
      await raw.publish(ch, 0, "x");
      const ac = new AbortController();
      await using sub = new TrickleSubscriber(raw.url(ch), {
        ...raw.clientOptions,
        start: -1,
        signal: ac.signal,
      });
      const pending = sub.next();
      await sleep(SETTLE_MS);
      ac.abort();
      assert.equal(await pending, null);
    });

    test("pytrickle test_stream_not_found: a subscriber of an unknown channel fails once with 404, no retries", async () => {
      await using sub = new TrickleSubscriber(raw.url(uniqueChannel()), raw.clientOptions);
      await assert.rejects(sub.next(), TrickleStreamNotFoundError);
      assert.equal(sub.stats.retries, 0);
      assert.equal(await sub.next(), null);
    });

    test("TLS: certificates are verified by default; insecure accepts a self-signed one", async (t) => {
      if (!raw.base.startsWith("https:")) return t.skip("target is plain HTTP");
      const ch = uniqueChannel();
      await raw.publish(ch, 0, "secret");
      const strictOpts = { ...(inst.client?.http2 ? { http2: true } : {}) };
      await using strict = new TrickleSubscriber(raw.url(ch), { ...strictOpts, start: 0, maxRetries: 0 });
      await assert.rejects(strict.next(), (err: unknown) => {
        assert.ok(err instanceof TrickleSubscribeError);
        assert.match(String((err.cause as Error)?.message ?? err.cause), /certificate|self.signed/i);
        return true;
      });
      await using relaxed = new TrickleSubscriber(raw.url(ch), {
        ...strictOpts,
        tls: { insecure: true },
        start: 0,
      });
      assert.equal(await (await relaxed.next())?.text(), "secret");
    });
  });
}
