import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Rat } from "../payments/rational.ts";
import {
  ConfigError,
  type ModelConfig,
  parseAiModels,
  parseLegacyAiModels,
  parseNumberText,
  watchAiModels,
} from "./config.ts";

describe("parseAiModels", () => {
  test("reads the documented fields and go-livepeer's extra ones, with defaults", () => {
    const [a, b] = parseAiModels(
      JSON.stringify([
        {
          pipeline: "live-video-to-video",
          model_id: "comfystream",
          url: "http://127.0.0.1:8188/",
          price_per_unit: 0,
          warm: true,
        },
        {
          pipeline: "text-to-image",
          model_id: "my-diffusion",
          url: "http://127.0.0.1:9000",
          price_per_unit: 1000000,
          pixels_per_unit: 3,
          token: "t",
          capacity: 4,
          currency: "WEI",
          gateway: "0xABC",
          optimization_flags: { SFAST: "true" },
        },
      ]),
    );
    assert.equal(a!.url, "http://127.0.0.1:8188");
    assert.equal(a!.warm, true);
    assert.equal(a!.capacity, 1);
    assert.equal(a!.gateway, "default");
    assert.equal(a!.priceUnit, "pixel");
    assert.ok(a!.price.isZero());
    assert.equal(b!.capacity, 4);
    assert.equal(b!.token, "t");
    assert.equal(b!.gateway, "0xabc");
    assert.equal(b!.price.cmp(Rat.of(1000000n, 3n)), 0);
    assert.deepEqual(b!.optimizationFlags, { SFAST: "true" });
  });

  test("prices are exact: decimals, exponents, strings, and eth currency", () => {
    const [m] = parseAiModels(
      '[{"pipeline":"llm","model_id":"m","url":"http://h","price_per_unit":1.5e-3,"currency":"eth"}]',
    );
    assert.equal(m!.price.cmp(Rat.of(15n * 10n ** 14n)), 0);
    assert.equal(parseNumberText("123456789012345678901234567890").num, 123456789012345678901234567890n);
    const [s] = parseAiModels(
      '[{"pipeline":"llm","model_id":"m","url":"http://h","price_per_unit":"0.25","price_unit":"second"}]',
    );
    assert.equal(s!.price.cmp(Rat.of(1n, 4n)), 0);
    assert.equal(s!.priceUnit, "second");
  });

  test("errors name the entry index and the field, all problems at once", () => {
    const text = JSON.stringify([
      { pipeline: "llm", model_id: "ok", url: "http://h" },
      { pipeline: "llm", model_id: "x", url: "ftp://h", capacity: 0 },
      { pipeline: "", model_id: "y", url: "http://h", capcity: 2 },
      { pipeline: "llm", model_id: "z", url: "http://h", currency: "USD" },
      { pipeline: "llm", model_id: "w", url: "http://h", pixels_per_unit: 0.5 },
    ]);
    let err: unknown;
    try {
      parseAiModels(text, "f.json");
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    const issues = err.details!.issues as string[];
    assert.ok(
      issues.some((i) => i.startsWith("entry 1 (llm/x): url:")),
      issues.join("\n"),
    );
    assert.ok(issues.some((i) => i.startsWith("entry 1 (llm/x): capacity:")));
    assert.ok(issues.some((i) => i.startsWith("entry 2 (/y): pipeline:")));
    assert.ok(issues.some((i) => i.startsWith("entry 2 (/y): (entry):") && i.includes("capcity")));
    assert.ok(issues.some((i) => i.startsWith("entry 3 (llm/z): currency:")));
    assert.ok(issues.some((i) => i.startsWith("entry 4 (llm/w): pixels_per_unit:")));
    assert.ok(!issues.some((i) => i.startsWith("entry 0")));
    assert.match(err.message, /^f\.json: 6 problem/);
  });

  test("not JSON, not an array, a string price, a missing url are 4xx config errors", () => {
    assert.throws(
      () => parseAiModels("{"),
      (e: unknown) => e instanceof ConfigError && e.status === 400,
    );
    assert.throws(() => parseAiModels("{}"), /must be a JSON array/);
    assert.throws(
      () => parseAiModels('[{"pipeline":"llm","model_id":"m","url":"http://h","price_per_unit":"abc"}]'),
      /price_per_unit/,
    );
    assert.throws(
      () => parseAiModels(parseLegacyAiModels("text-to-image:sd:true")),
      /entry 0 \(text-to-image\/sd\): url/,
    );
  });

  test("a model_id shared by two pipelines that are not built in is refused (it is their BYOC name)", () => {
    const entries = [
      { pipeline: "text-reverse", model_id: "v1", url: "http://a" },
      { pipeline: "text-upper", model_id: "v1", url: "http://b" },
    ];
    assert.throws(
      () => parseAiModels(JSON.stringify(entries)),
      /entry 1 \(text-upper\/v1\): model_id is also used by entry 0/,
    );
    // The same model id on a built-in pipeline, or twice on one pipeline (two containers), is fine.
    const ok = parseAiModels(
      JSON.stringify([
        entries[0],
        { ...entries[0], url: "http://c" },
        { pipeline: "llm", model_id: "v1", url: "http://d" },
      ]),
    );
    assert.equal(ok.length, 3);
  });
});

describe("watchAiModels", () => {
  const dir = mkdtempSync(join(tmpdir(), "aimodels-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const entry = (model: string) => JSON.stringify([{ pipeline: "llm", model_id: model, url: "http://h" }]);

  test("reloads after a file change and an atomic replace; a bad file keeps the old config", async () => {
    const file = join(dir, "aiModels.json");
    writeFileSync(file, entry("a"));
    const seen: string[] = [];
    const errors: unknown[] = [];
    let wake: () => void = () => {};
    const next = () =>
      new Promise<void>((r) => {
        wake = r;
      });
    using _w = watchAiModels(
      file,
      (m: ModelConfig[]) => {
        seen.push(m[0]!.modelId);
        wake();
      },
      (e) => {
        errors.push(e);
        wake();
      },
      { debounceMs: 20, sighup: false },
    );
    let p = next();
    writeFileSync(file, entry("b"));
    await p;
    assert.deepEqual(seen, ["b"]);
    p = next();
    writeFileSync(join(dir, "tmp.json"), entry("c"));
    renameSync(join(dir, "tmp.json"), file);
    await p;
    assert.equal(seen.at(-1), "c");
    p = next();
    writeFileSync(file, "[{");
    await p;
    assert.equal(errors.length, 1);
    assert.equal(seen.at(-1), "c");
  });

  test("SIGHUP reloads", async () => {
    const file = join(dir, "hup.json");
    writeFileSync(file, entry("h"));
    const seen: string[] = [];
    let wake: () => void = () => {};
    const p = new Promise<void>((r) => {
      wake = r;
    });
    using _w = watchAiModels(
      file,
      (m) => {
        seen.push(m[0]!.modelId);
        wake();
      },
      () => {},
      { debounceMs: 10_000 },
    );
    process.kill(process.pid, "SIGHUP");
    await p;
    assert.deepEqual(seen, ["h"]);
  });
});
