import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import {
  type CapabilityRegistration,
  RegistrationConfigError,
  RegistrationFailedError,
  RegistrationRejectedError,
  registerCapability,
  registrationBody,
  registrationFromEnv,
  startRegistration,
} from "./registration.ts";

interface Seen {
  method: string | undefined;
  path: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** A fake go-livepeer orchestrator: checks the secret like RegisterCapability, answers 200 "ok". */
function fakeOrchestrator(secret: string, answers: number[] = []) {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({
        method: req.method,
        path: req.url,
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        body,
      });
      const forced = answers.shift();
      if (forced !== undefined) {
        res.writeHead(forced).end("forced");
      } else if (req.headers.authorization !== secret) {
        res.writeHead(400).end("invalid authorization");
      } else {
        res.writeHead(200, { "content-type": "application/json" }).end("ok");
      }
    });
  };
  return { seen, handler };
}

async function listen(server: ReturnType<typeof createServer> | ReturnType<typeof createHttpsServer>) {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

const ENV = {
  ORCH_URL: "http://127.0.0.1:1",
  ORCH_SECRET: "orch-secret",
  CAPABILITY_NAME: "text-reverse",
  CAPABILITY_DESCRIPTION: "reverses text",
  CAPABILITY_URL: "http://runner:8000",
  CAPABILITY_CAPACITY: "2",
  CAPABILITY_PRICE_PER_UNIT: "9223372036854775807",
  CAPABILITY_PRICE_SCALING: "1000",
};

test("registration reads pytrickle's env vars and is skipped without ORCH_URL or ORCH_SECRET", () => {
  assert.equal(registrationFromEnv({ ORCH_SECRET: "x" }), undefined);
  assert.equal(registrationFromEnv({ ORCH_URL: "http://o" }), undefined);
  const reg = registrationFromEnv(ENV)!;
  assert.equal(reg.capacity, 2);
  assert.equal(reg.pricePerUnit, 9223372036854775807n);
  assert.equal(reg.priceScaling, 1000n);
  const defaults = registrationFromEnv(
    { ORCH_URL: "orch:9995", ORCH_SECRET: "s" },
    { name: "p", token: "t" },
  )!;
  assert.equal(defaults.orchUrl, "https://orch:9995");
  assert.equal(defaults.name, "p");
  assert.equal(defaults.url, "http://localhost:8000");
  assert.equal(defaults.capacity, 1);
  assert.equal(defaults.pricePerUnit, 0n);
  assert.equal(defaults.priceScaling, 1n);
  assert.equal(defaults.token, "t");
  assert.throws(() => registrationFromEnv({ ...ENV, CAPABILITY_CAPACITY: "two" }), RegistrationConfigError);
  assert.throws(() => registrationFromEnv({ ...ENV, CAPABILITY_CAPACITY: "0" }), RegistrationConfigError);
  assert.throws(
    () => registrationFromEnv({ ...ENV, CAPABILITY_PRICE_PER_UNIT: "9223372036854775808" }),
    RegistrationConfigError,
  );
});

test("the body has core.ExternalCapability's keys with exact int64 prices", () => {
  const body = registrationBody(registrationFromEnv({ ...ENV, CAPABILITY_TOKEN: "tok" })!);
  assert.equal(
    body,
    '{"name":"text-reverse","description":"reverses text","url":"http://runner:8000","capacity":2,' +
      '"price_per_unit":9223372036854775807,"price_scaling":1000,"currency":"","token":"tok"}',
  );
});

test("one attempt posts to /capability/register with the raw secret; 400 is a rejection", async (t) => {
  const orch = fakeOrchestrator("orch-secret");
  const server = createServer(orch.handler);
  const port = await listen(server);
  t.after(() => server.close());
  const reg = registrationFromEnv({ ...ENV, ORCH_URL: `http://127.0.0.1:${port}/` })!;
  await registerCapability(reg);
  assert.deepEqual(orch.seen[0], {
    method: "POST",
    path: "/capability/register",
    authorization: "orch-secret",
    contentType: "application/json",
    body: registrationBody(reg),
  });
  await assert.rejects(registerCapability({ ...reg, orchSecret: "wrong" }), RegistrationRejectedError);
});

test("a self-signed orchestrator certificate is accepted by default and refused when verification is on", async (t) => {
  const orch = fakeOrchestrator("orch-secret");
  const server = createHttpsServer(
    {
      key: readFileSync(new URL("./testdata/self-signed.key", import.meta.url)),
      cert: readFileSync(new URL("./testdata/self-signed.crt", import.meta.url)),
    },
    orch.handler,
  );
  const port = await listen(server);
  t.after(() => server.close());
  const reg: CapabilityRegistration = registrationFromEnv({ ...ENV, ORCH_URL: `https://127.0.0.1:${port}` })!;
  await registerCapability(reg);
  assert.equal(orch.seen.length, 1);
  await assert.rejects(registerCapability(reg, { verifyTls: true }), RegistrationFailedError);
});

test("the loop retries failures with backoff, then re-registers periodically while idle", async (t) => {
  const orch = fakeOrchestrator("orch-secret", [503, 500]);
  const server = createServer(orch.handler);
  const port = await listen(server);
  t.after(() => server.close());
  const reg = registrationFromEnv({ ...ENV, ORCH_URL: `http://127.0.0.1:${port}` })!;
  let idle = false;
  let registrations = 0;
  let thirdRegistration: () => void = () => {};
  const third = new Promise<void>((resolve) => {
    thirdRegistration = resolve;
  });
  const loop = startRegistration(reg, {
    retryDelayMs: 5,
    refreshIntervalMs: 5,
    isIdle: () => idle,
    onRegistered: () => {
      registrations++;
      if (registrations === 3) thirdRegistration();
    },
  });
  t.after(() => loop.stop());
  assert.equal(await loop.registered, true);
  assert.equal(loop.attempts, 3);
  await new Promise((resolve) => setTimeout(resolve, 40)); // several refresh periods while busy
  assert.equal(registrations, 1, "no re-registration while the runner is busy");
  idle = true;
  await third;
  await loop.stop();
  assert.equal(loop.successes, 3);
  assert.equal(orch.seen.length, 5);
});

test("the loop gives up on a rejected secret and on stop before success", async (t) => {
  const orch = fakeOrchestrator("orch-secret");
  const server = createServer(orch.handler);
  const port = await listen(server);
  t.after(() => server.close());
  const reg = registrationFromEnv({ ...ENV, ORCH_URL: `http://127.0.0.1:${port}`, ORCH_SECRET: "nope" })!;
  const rejected = startRegistration(reg, { retryDelayMs: 5 });
  assert.equal(await rejected.registered, false);
  assert.equal(rejected.attempts, 1);
  await rejected.stop();

  const ac = new AbortController();
  const unreachable = startRegistration(
    { ...reg, orchUrl: "http://127.0.0.1:1" },
    { retryDelayMs: 5, signal: ac.signal },
  );
  ac.abort();
  assert.equal(await unreachable.registered, false);
  await unreachable.stop();
});

test("401 and 403 (Tributary's answer to a wrong secret) are rejections, like 400", async (t) => {
  for (const status of [401, 403]) {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(status).end("wrong secret");
    });
    const port = await listen(server);
    t.after(() => server.close());
    const reg = registrationFromEnv({ ...ENV, ORCH_URL: `http://127.0.0.1:${port}` })!;
    const err = await registerCapability(reg).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RegistrationRejectedError, String(err));
    assert.match(err.message, new RegExp(`\\(${status} wrong secret\\)`));
    assert.equal(calls, 1);
  }
});
