import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Rat } from "../../payments/rational.ts";
import { loadRunnersConfig, MAX_RUNNER_METADATA_BYTES, parseAdvert, parseRunnersConfig } from "./config.ts";

const base = { runner_url: "http://10.0.0.2:8080/", app: "live-video-to-video/scope" };

test("parseAdvert: defaults and go-livepeer's rules", () => {
  const a = parseAdvert(base, false);
  assert.deepEqual(
    [a.runnerUrl, a.mode, a.capacity, a.status, a.price],
    ["http://10.0.0.2:8080", "persistent", 1, "", undefined],
  );
  assert.equal(parseAdvert({ ...base, mode: "single_shot" }, false).mode, "single-shot");
  assert.deepEqual(parseAdvert({ ...base, gpu: 2 }, false).gpu, { id: "2" });
  for (const [field, value, message] of [
    ["runner_url", "ftp://x", /runner_url/],
    ["app", " a", /app must be trimmed/],
    ["status", "Ready", /lowercase/],
    ["mode", "batch", /mode/],
    ["capacity", -1, /capacity/],
    ["metadata", "é".repeat(MAX_RUNNER_METADATA_BYTES / 2 + 1), /metadata/],
    ["session_ids", [1], /session_ids/],
  ] as const)
    assert.throws(() => parseAdvert({ ...base, [field]: value }, false), { status: 400, message }, field);
});

test("parseAdvert on a paid node: price_info required; wei as given, usd only with a price feed", () => {
  const wei = (p: Record<string, unknown>) => parseAdvert({ ...base, price_info: p }, true).price;
  const usd = (p: Record<string, unknown>) => parseAdvert({ ...base, price_info: p }, "usd").price;
  assert.throws(() => parseAdvert(base, true), /price_info.price is required/);
  assert.throws(() => wei({ price: 3.5 }), /usd needs an ETH\/USD price feed/, "usd is the default currency");
  assert.throws(() => wei({ price: 1, currency: "eur" }), /currency must be usd or wei/);
  assert.throws(
    () => wei({ price: 1, currency: "wei", unit: "minute" }),
    /unit must be one of hour, seconds/,
  );
  assert.throws(() => wei({ price: 1, currency: "wei", unit: "constructor" }), /unit must be one of/);
  assert.throws(() => wei({ price: 0, currency: "wei", unit: "seconds" }), /positive decimal/);
  assert.throws(() => wei({ price: -1, currency: "wei" }), /positive decimal/);
  assert.throws(() => wei({ price: 1.5, currency: "wei", unit: "seconds" }), /positive integer/);
  assert.throws(() => wei({ price: 1000, currency: "wei", unit: "hour" }), /less than one wei per second/);
  assert.deepEqual(wei({ price: 12, currency: "wei", unit: "seconds" }), {
    currency: "wei",
    perUnit: Rat.of(12n),
    unit: "seconds",
    given: "12 wei/seconds",
  });
  assert.equal(wei({ price: 12, currency: "wei" })?.unit, "seconds", "wei defaults to seconds");
  assert.equal(
    wei({ price_per_unit: "99999999999999999999", currency: "WEI", unit: "seconds" })?.perUnit.num,
    99999999999999999999n,
  );
  assert.deepEqual(
    wei({ price: 7200, currency: "wei", unit: "hour" })?.perUnit,
    Rat.of(2n),
    "per hour → per second",
  );
  assert.deepEqual(
    wei({ price: 5, currency: "wei", unit: "720p-pixel-seconds" })?.unit,
    "720p-pixel-seconds",
  );
  assert.deepEqual(wei({ price: 9, currency: "wei", unit: "fixed" })?.unit, "fixed");
  // USD, with a feed: kept exact per charged unit (converted when quoted).
  assert.deepEqual(usd({ price: 3.5 }), {
    currency: "usd",
    perUnit: Rat.of(35n, 36000n),
    unit: "seconds",
    given: "3.5 usd/hour",
  });
  assert.deepEqual(usd({ price: "10", unit: "720p" })?.perUnit, Rat.of(10n, 3600n * 1280n * 720n * 30n));
  assert.equal(usd({ price: "10", unit: "720p" })?.unit, "720p-pixel-seconds");
  assert.deepEqual(usd({ price: 0.001, currency: "USD", unit: "fixed" })?.perUnit, Rat.of(1n, 1000n));
  assert.deepEqual(usd({ price: 1e-7, unit: "seconds" })?.perUnit, Rat.of(1n, 10_000_000n), "exponent form");
  assert.equal(
    parseAdvert({ ...base, price_info: { price: "x" } }, false).price,
    undefined,
    "ignored offchain",
  );
});

test("parseRunnersConfig: whole or nothing, naming runners[i]; health_url resolved; label rules", () => {
  const e = { label: "a", runner_url: "http://h:1/base", health_url: "/health", app: "x" };
  const [one] = parseRunnersConfig({ runners: [e] }, false);
  assert.equal(one?.healthUrl, "http://h:1/base/health");
  assert.equal(one?.healthyStatusCode, 200);
  assert.equal(one?.routing, "runner-id");
  const cases: [unknown, RegExp][] = [
    [[], /must be an object/],
    [{ runners: {} }, /runners must be a list/],
    [{ runners: [e, e] }, /runners\[1\]: duplicate label/],
    [{ runners: [e, { ...e, label: "b", health_url: "" }] }, /runners\[1\]: health_url is required/],
    [{ runners: [{ ...e, routing: "label", label: "a/b" }] }, /cannot contain \//],
    [{ runners: [{ ...e, routing: "random" }] }, /routing/],
    [{ runners: [{ ...e, healthy_status_code: 99 }] }, /healthy_status_code/],
    [{ runners: [{ ...e, health_url: "health" }] }, /invalid health_url/],
  ];
  for (const [doc, message] of cases)
    assert.throws(() => parseRunnersConfig(doc, false), { code: "INVALID_RUNNERS_CONFIG", message });
});

test("loadRunnersConfig: unreadable and non-JSON files are clear errors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "runners-cfg-"));
  await assert.rejects(loadRunnersConfig(join(dir, "none.json"), false), /cannot read .*ENOENT/);
  writeFileSync(join(dir, "bad.json"), "{");
  await assert.rejects(loadRunnersConfig(join(dir, "bad.json"), false), /not JSON/);
});
