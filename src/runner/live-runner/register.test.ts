import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { closeServer, listen } from "../../node/http/listen.ts";
import { LocalPublisher } from "../../trickle/local.ts";
import { type RunningTrickleServer, startTrickleServer } from "../../trickle/server.ts";
import { parseGoDuration, type SessionEvent, startHeartbeats } from "./register.ts";

const SECRET = "orch-secret";

interface Beat {
  at: number;
  auth: string;
  body: Record<string, unknown>;
}

/** A fake orchestrator: heartbeat + unregister, with an o2r channel on a real trickle server. */
async function fakeOrchestrator() {
  const trickle: RunningTrickleServer = await startTrickleServer({ port: 0, autocreate: false });
  const beats: Beat[] = [];
  const unregisters: { id: string; auth: string }[] = [];
  let generation = 0;
  const known = new Map<string, string>(); // runner id → heartbeat secret
  const state = {
    /** Answers this status instead (then decrements `failuresLeft`). */
    failStatus: 503,
    failuresLeft: 0,
    interval: "30ms",
    ttl: "1s",
    sessionIds: [] as string[],
    o2r: undefined as LocalPublisher | undefined,
  };
  const read = async (req: IncomingMessage) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    return JSON.parse(Buffer.concat(parts).toString() || "{}") as Record<string, unknown>;
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const auth = String(req.headers.authorization ?? "");
    if (req.url === "/runners/heartbeat") {
      const body = await read(req);
      beats.push({ at: Date.now(), auth, body });
      if (state.failuresLeft > 0) {
        state.failuresLeft--;
        return json(res, state.failStatus, { error: { message: "down" } });
      }
      const id = typeof body.runner_id === "string" && body.runner_id !== "" ? body.runner_id : "runner_fake";
      const base = {
        runner_id: id,
        orchestrator: url,
        heartbeat_interval: state.interval,
        heartbeat_ttl: state.ttl,
        session_ids: state.sessionIds,
      };
      const hs = known.get(id);
      if (hs !== undefined) {
        if (auth !== hs) return json(res, 401, { error: { message: "invalid heartbeat authorization" } });
        return json(res, 200, base);
      }
      if (auth !== SECRET)
        return json(res, 401, { error: { message: "invalid registration authorization" } });
      const secret = `hb-${++generation}`;
      known.set(id, secret);
      const name = `o2r-${generation}`;
      state.o2r?.close();
      state.o2r = new LocalPublisher(trickle.trickle, name, "application/json");
      state.o2r.createChannel();
      return json(res, 200, {
        ...base,
        heartbeat_secret: secret,
        o2r: {
          name: "o2r",
          channel_name: name,
          url: `${trickle.url}${name}`,
          internal_url: `${trickle.url}${name}`,
          mime_type: "application/json",
        },
      });
    }
    const m = /^\/runners\/([^/]+)\/unregister$/.exec(req.url ?? "");
    if (m) {
      unregisters.push({ id: decodeURIComponent(m[1] as string), auth });
      res.writeHead(204);
      return res.end();
    }
    json(res, 404, {});
  });
  await listen(server, "127.0.0.1", 0);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    beats,
    unregisters,
    state,
    /** Forgets every runner, as a restarted orchestrator does. */
    restart: () => known.clear(),
    send: (msg: Record<string, unknown>) => state.o2r?.write(Buffer.from(JSON.stringify(msg))),
    close: async () => {
      state.o2r?.close();
      await closeServer(server);
      await trickle.close();
    },
  };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const advert = { runnerUrl: "http://127.0.0.1:1", app: "test/echo", capacity: 2, runnerId: "rt-1" };

test("parseGoDuration reads go's Duration strings", () => {
  assert.equal(parseGoDuration("5s"), 5000);
  assert.equal(parseGoDuration("1.5s"), 1500);
  assert.equal(parseGoDuration("250ms"), 250);
  assert.equal(parseGoDuration("1m30s"), 90_000);
  assert.equal(parseGoDuration("x"), undefined);
  assert.equal(parseGoDuration(5), undefined);
});

test("bootstraps with the orchestrator secret, then beats with the heartbeat secret; unregisters on close", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  const loop = startHeartbeats(advert, { orchUrl: orch.url, orchSecret: SECRET });
  assert.equal(await loop.registered, true);
  await until(() => orch.beats.length >= 4, "4 beats");
  await loop.close();
  assert.equal(orch.beats[0]?.auth, SECRET);
  for (const b of orch.beats.slice(1)) assert.equal(b.auth, "hb-1");
  const body = orch.beats[0]?.body ?? {};
  assert.deepEqual(
    {
      url: body.runner_url,
      app: body.app,
      cap: body.capacity,
      id: body.runner_id,
      mode: body.mode,
      status: body.status,
    },
    { url: advert.runnerUrl, app: "test/echo", cap: 2, id: "rt-1", mode: "persistent", status: "ready" },
  );
  // The answer's 30 ms interval is used (not the 5 s default).
  const gaps = orch.beats.slice(1).map((b, i) => b.at - (orch.beats[i] as Beat).at);
  assert.ok(Math.max(...gaps) < 1000, `gaps ${gaps}`);
  assert.deepEqual(orch.unregisters, [{ id: "rt-1", auth: "hb-1" }]);
  assert.equal(loop.runnerId, "rt-1");
});

test("the period is at most a third of the TTL", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  orch.state.interval = "10s";
  orch.state.ttl = "120ms";
  const loop = startHeartbeats(advert, { orchUrl: orch.url, orchSecret: SECRET });
  t.after(() => loop.close());
  await until(() => orch.beats.length >= 3, "3 beats within a second", 1500);
});

test("failed beats back off exponentially with jitter, then recover", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  orch.state.failuresLeft = 5;
  const draws: number[] = [];
  const loop = startHeartbeats(advert, {
    orchUrl: orch.url,
    orchSecret: SECRET,
    retryDelayMs: 40,
    maxRetryDelayMs: 10_000,
    random: () => {
      draws.push(1);
      return 1;
    },
  });
  t.after(() => loop.close());
  assert.equal(await loop.registered, true);
  assert.equal(loop.stats.failures, 5);
  assert.equal(draws.length, 5, "one jitter draw per failure");
  // Full jitter at its ceiling (random() = 1): 40, 80, 160, 320, 640 ms.
  const gaps = orch.beats.slice(1, 6).map((b, i) => b.at - (orch.beats[i] as Beat).at);
  const want = [40, 80, 160, 320, 640];
  for (const [i, g] of gaps.entries())
    assert.ok(g >= (want[i] as number) - 5, `gap ${i} ${g} < ${want[i]} (${gaps})`);
  assert.ok((gaps[4] as number) > (gaps[1] as number) * 3, `grows: ${gaps}`);
});

test("jitter scales the delay down (random() = 0.25 → a quarter of the ceiling)", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  orch.state.failuresLeft = 2;
  const loop = startHeartbeats(advert, {
    orchUrl: orch.url,
    orchSecret: SECRET,
    retryDelayMs: 2000,
    random: () => 0.25,
  });
  t.after(() => loop.close());
  const t0 = Date.now();
  assert.equal(await loop.registered, true);
  // 500 + 1000 ms instead of 2000 + 4000.
  const took = Date.now() - t0;
  assert.ok(took >= 1400 && took < 4000, `${took} ms`);
});

test("a 401 to the heartbeat secret (orchestrator restarted) bootstraps again at once, same runner id", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  const loop = startHeartbeats(advert, { orchUrl: orch.url, orchSecret: SECRET });
  t.after(() => loop.close());
  await loop.registered;
  await until(() => orch.beats.length >= 2, "a beat");
  orch.restart();
  await until(() => loop.stats.registrations === 2, "re-registration");
  const i = orch.beats.findIndex((b, k) => k > 0 && b.auth === SECRET);
  assert.equal(orch.beats[i - 1]?.auth, "hb-1", "the refused beat carried the old secret");
  assert.equal(orch.beats[i]?.body.runner_id, "rt-1");
  await until(() => orch.beats.at(-1)?.auth === "hb-2", "beats with the new secret");
  assert.equal(loop.stats.failures, 0, "a re-registration is not a failure");
});

test("a 401 to the bootstrap is a failure, retried with backoff", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  const loop = startHeartbeats(advert, {
    orchUrl: orch.url,
    orchSecret: "wrong",
    retryDelayMs: 20,
    random: () => 1,
  });
  await until(() => loop.stats.failures >= 3, "3 failures");
  await loop.close();
  assert.equal(await loop.registered, false);
  assert.equal(orch.unregisters.length, 0, "never registered: nothing to unregister");
});

test("o2r reserved/released events reach onSession and the beats' session_ids", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  const events: SessionEvent[] = [];
  const loop = startHeartbeats(advert, {
    orchUrl: orch.url,
    orchSecret: SECRET,
    onSession: (e) => events.push(e),
  });
  t.after(() => loop.close());
  await loop.registered;
  // The orchestrator lists its sessions in every answer too; keep them consistent with o2r.
  orch.state.sessionIds = ["s1"];
  await orch.send({ event: "reserved", session: "s1", timestamp: "2026-01-01T00:00:00Z" });
  await orch.send({ keep: "alive" });
  await until(() => events.length >= 1, "reserved");
  assert.equal(events[0]?.event, "reserved");
  assert.equal(events[0]?.session, "s1");
  await until(() => ((orch.beats.at(-1)?.body.session_ids ?? []) as string[]).includes("s1"), "s1 in a beat");
  orch.state.sessionIds = [];
  await orch.send({ event: "released", session: "s1" });
  await until(() => events.length >= 2, "released");
  assert.deepEqual(
    events.map((e) => `${e.event}:${e.session}`),
    ["reserved:s1", "released:s1"],
  );
  assert.equal(loop.sessions.size, 0);
});

test("sessions listed in heartbeat answers are reconciled without o2r", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  const events: string[] = [];
  const loop = startHeartbeats(advert, {
    orchUrl: orch.url,
    orchSecret: SECRET,
    onSession: (e) => events.push(`${e.event}:${e.session}`),
  });
  t.after(() => loop.close());
  await loop.registered;
  orch.state.sessionIds = ["a", "b"];
  await until(() => events.length === 2, "two reserved");
  orch.state.sessionIds = ["b"];
  await until(() => events.length === 3, "a released");
  assert.deepEqual(events, ["reserved:a", "reserved:b", "released:a"]);
  assert.deepEqual([...loop.sessions], ["b"]);
});

test("an aborted signal stops the loop and unregisters", async (t) => {
  const orch = await fakeOrchestrator();
  t.after(() => orch.close());
  const ac = new AbortController();
  const loop = startHeartbeats(advert, { orchUrl: orch.url, orchSecret: SECRET, signal: ac.signal });
  await loop.registered;
  ac.abort();
  await until(() => orch.unregisters.length === 1, "unregister");
  const n = orch.beats.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(orch.beats.length, n, "no beat after the abort");
});
