import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Rat } from "../payments/rational.ts";
import { parseAiModels } from "./config.ts";
import { type ByocRegistration, CapabilityRegistry, servedAsByoc } from "./registry.ts";

const models = (entries: object[]) => parseAiModels(JSON.stringify(entries));
const byoc = (name: string, url: string, capacity = 1): ByocRegistration => ({
  name,
  description: "",
  url,
  capacity,
  price: Rat.of(5n),
  pricePerUnit: 5n,
  priceScaling: 1n,
  currency: "wei",
  token: undefined,
});

describe("CapabilityRegistry", () => {
  test("an aiModels.json entry of a pipeline that is not built in is BYOC <model_id>, priced per second", () => {
    const r = new CapabilityRegistry();
    r.setConfigModels(
      models([
        { pipeline: "text-reverse", model_id: "reverse-v1", url: "http://rev", price_per_unit: 3 },
        { pipeline: "llm", model_id: "m", url: "http://llm" },
      ]),
    );
    const cap = r.get("byoc", "reverse-v1");
    assert.equal(cap?.key, "text-reverse/reverse-v1");
    assert.equal(cap?.priceUnit, "second");
    assert.equal(r.get("byoc", "m"), undefined, "built-in pipelines stay native");
    assert.ok(servedAsByoc(cap!));
    assert.ok(!servedAsByoc(r.get("llm", "m")!));
    // A registration of the same name wins, and is advertised once.
    r.setHealth("http://rev", "ready");
    r.registerByoc(byoc("reverse-v1", "http://other"));
    r.setHealth("http://other", "ready");
    assert.equal(r.get("byoc", "reverse-v1")?.source, "byoc");
    assert.deepEqual(
      r.advertised().map((a) => a.key),
      ["byoc/reverse-v1"],
    );
  });

  test("only ready containers are advertised and reserved", () => {
    const r = new CapabilityRegistry();
    r.setConfigModels(models([{ pipeline: "llm", model_id: "m", url: "http://a", capacity: 2, warm: true }]));
    const cap = r.get("llm", "m")!;
    assert.equal(r.advertised().length, 0);
    assert.equal(r.reserve(cap), undefined);
    r.setHealth("http://a", "ready");
    assert.deepEqual(
      r.advertised().map((a) => [a.key, a.capacity, a.inUse, a.warm]),
      [["llm/m", 2, 0, true]],
    );
    const l1 = r.reserve(cap)!;
    const l2 = r.reserve(cap)!;
    assert.equal(r.reserve(cap), undefined, "capacity 2 is full");
    assert.equal(r.advertised()[0]!.inUse, 2);
    l1.release();
    l1.release();
    assert.equal(r.container("http://a")!.inUse, 1, "a double release counts once");
    l2.release();
  });

  test("capacity belongs to the container URL: two capabilities on one container share it", () => {
    const r = new CapabilityRegistry();
    r.setConfigModels(models([{ pipeline: "llm", model_id: "m", url: "http://shared", capacity: 1 }]));
    r.registerByoc(byoc("echo", "http://shared"));
    r.setHealth("http://shared", "ready");
    const lease = r.reserve(r.get("llm", "m")!)!;
    assert.equal(r.reserve(r.get("byoc", "echo")!), undefined);
    lease.release();
    assert.ok(r.reserve(r.get("byoc", "echo")!));
  });

  test("re-registering keeps the in-flight count (go-livepeer resets it)", () => {
    const r = new CapabilityRegistry();
    r.registerByoc(byoc("echo", "http://c", 1));
    r.setHealth("http://c", "ready");
    const lease = r.reserve(r.get("byoc", "echo")!)!;
    r.registerByoc(byoc("echo", "http://c", 1));
    assert.equal(r.reserve(r.get("byoc", "echo")!), undefined);
    lease.release();
  });

  test("a reload that drops a container keeps its running lease; the slot is freed at release", () => {
    const r = new CapabilityRegistry();
    r.setConfigModels(models([{ pipeline: "llm", model_id: "m", url: "http://old" }]));
    r.setHealth("http://old", "ready");
    const lease = r.reserve(r.get("llm", "m")!)!;
    r.setConfigModels(models([{ pipeline: "llm", model_id: "m2", url: "http://new" }]));
    assert.equal(r.get("llm", "m"), undefined);
    assert.equal(r.container("http://old")!.referenced, false);
    lease.release();
    assert.equal(r.container("http://old"), undefined);
    assert.equal(r.container("http://new")!.health, "unknown");
  });

  test("prices per gateway fall back to default; unregister removes a BYOC capability", () => {
    const r = new CapabilityRegistry();
    r.setConfigModels(
      models([
        { pipeline: "llm", model_id: "m", url: "http://a", price_per_unit: 10 },
        { pipeline: "llm", model_id: "m", url: "http://a", price_per_unit: 3, gateway: "0xAB" },
      ]),
    );
    const cap = r.get("llm", "m")!;
    assert.equal(r.priceFor(cap, "0xab").cmp(3n), 0);
    assert.equal(r.priceFor(cap, "0xcd").cmp(10n), 0);
    r.registerByoc(byoc("x", "http://b"));
    assert.equal(r.unregisterByoc("x"), true);
    assert.equal(r.unregisterByoc("x"), false);
    assert.equal(r.container("http://b"), undefined);
  });
});
