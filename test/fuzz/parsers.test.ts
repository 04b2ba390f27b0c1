/**
 * Fuzzing of the pure parsers: the BYOC `Livepeer` job header, the `Livepeer-Payment` and
 * `Livepeer-Segment` codecs, trickle sequence numbers and channel names, and `aiModels.json`.
 * Whatever the input, each throws only its typed error (a TributaryError subclass), and valid values
 * survive an encode → decode round trip.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BadRequestError, TributaryError } from "../../src/node/errors.ts";
import { ConfigError, parseAiModels } from "../../src/orchestrator/config.ts";
import {
  encodeJobHeader,
  encodeJobSenderHeader,
  type JobHeader,
  jobSigningPayloadV1,
  MAX_JOB_TIMEOUT_SECONDS,
  parseJobHeader,
  parseJobSenderHeader,
} from "../../src/protocol/job-header.ts";
import {
  decodePaymentHeader,
  encodePaymentHeader,
  PaymentHeaderError,
} from "../../src/protocol/payment-header.ts";
import {
  decodeSegmentHeader,
  encodeSegmentHeader,
  SegmentHeaderError,
} from "../../src/protocol/segment-header.ts";
import { parseSeq } from "../../src/protocol/trickle.ts";
import { channelNameProblem } from "../../src/trickle/server.ts";
import { address, junkHeader, mutated, payment, segCreds, text } from "./arbitraries.ts";
import { check, throwsOnly } from "./fuzz-util.ts";

const RUNS = 400;

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64");

describe("fuzz: Livepeer-Payment header", () => {
  test("a valid payment survives encode → decode unchanged", () => {
    check("payment round trip", RUNS, [payment], (p) => {
      assert.deepEqual(decodePaymentHeader(encodePaymentHeader(p)), structuredClone(p));
    });
  });

  test("any header value decodes or throws PaymentHeaderError (402), nothing else", () => {
    check("payment junk", RUNS, [fc.oneof(junkHeader, mutated(payment.map(encodePaymentHeader)))], (v) => {
      try {
        decodePaymentHeader(v);
      } catch (err) {
        assert.ok(err instanceof PaymentHeaderError, `threw ${String(err)}`);
        assert.equal(err.status, 402);
        assert.ok(err.message.length > 0);
      }
    });
  });
});

describe("fuzz: Livepeer-Segment header", () => {
  test("valid segment credentials survive encode → decode unchanged", () => {
    check("segment round trip", RUNS, [segCreds], (c) => {
      const { raw: _raw, ...decoded } = decodeSegmentHeader(encodeSegmentHeader(c));
      assert.deepEqual(decoded, structuredClone(c));
    });
  });

  test("any header value decodes or throws SegmentHeaderError (403), nothing else", () => {
    check("segment junk", RUNS, [fc.oneof(junkHeader, mutated(segCreds.map(encodeSegmentHeader)))], (v) => {
      try {
        decodeSegmentHeader(v);
      } catch (err) {
        assert.ok(err instanceof SegmentHeaderError, `threw ${String(err)}`);
        assert.equal(err.status, 403);
      }
    });
  });
});

describe("fuzz: Livepeer job header", () => {
  const jobHeader: fc.Arbitrary<JobHeader> = fc.record({
    id: text,
    request: fc
      .tuple(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), text)
      .map(([extra, streamId]) => JSON.stringify({ ...extra, stream_id: streamId })),
    parameters: fc.oneof(
      fc.constant(""),
      fc
        .record(
          {
            orchestrators: fc.record(
              { include: fc.array(text, { maxLength: 3 }), exclude: fc.array(text, { maxLength: 3 }) },
              { requiredKeys: [] },
            ),
            enable_video_ingress: fc.boolean(),
            enable_video_egress: fc.boolean(),
            enable_data_output: fc.boolean(),
          },
          { requiredKeys: [] },
        )
        .map((p) => JSON.stringify(p)),
    ),
    capability: text,
    timeoutSeconds: fc.integer({ min: 1, max: MAX_JOB_TIMEOUT_SECONDS }),
    sender: text,
    sig: text,
  });

  test("a valid job header parses to the fields it was built from", () => {
    check("job header round trip", RUNS, [jobHeader], (h) => {
      const job = parseJobHeader(encodeJobHeader(h));
      const { streamId, params, ...wire } = job;
      assert.deepEqual(wire, structuredClone(h));
      assert.equal(streamId, (JSON.parse(h.request) as { stream_id: string }).stream_id);
      const p = (h.parameters === "" ? {} : JSON.parse(h.parameters)) as Record<string, unknown> & {
        orchestrators?: { include?: string[]; exclude?: string[] };
      };
      assert.deepEqual(params, {
        ...(p.orchestrators?.include ? { include: p.orchestrators.include } : {}),
        ...(p.orchestrators?.exclude ? { exclude: p.orchestrators.exclude } : {}),
        enableVideoIngress: p.enable_video_ingress === true,
        enableVideoEgress: p.enable_video_egress === true,
        enableDataOutput: p.enable_data_output === true,
      });
      // the V1 signing payload is defined for every header that parses
      assert.ok(jobSigningPayloadV1(job).length >= 16 + 4 * 5);
    });
  });

  /** Objects shaped like a job request whose fields have arbitrary JSON types. */
  const jobLike = fc
    .record(
      {
        id: fc.jsonValue({ maxDepth: 1 }),
        request: fc.oneof(
          fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        parameters: fc.oneof(
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
          fc
            .record({
              orchestrators: fc.jsonValue({ maxDepth: 2 }),
              enable_video_ingress: fc.jsonValue({ maxDepth: 1 }),
            })
            .map((v) => JSON.stringify(v)),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        capability: fc.jsonValue({ maxDepth: 1 }),
        sender: fc.jsonValue({ maxDepth: 1 }),
        timeout_seconds: fc.oneof(fc.integer(), fc.double(), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    )
    .map(b64);

  test("any Livepeer value parses or throws BadRequestError (400) with a message, nothing else", () => {
    check(
      "job header junk",
      RUNS,
      [
        fc.option(fc.oneof(junkHeader, jobLike, mutated(jobHeader.map(encodeJobHeader))), { nil: undefined }),
        fc.boolean(),
      ],
      (v, client) => {
        try {
          const job = parseJobHeader(v, { client });
          jobSigningPayloadV1(job);
        } catch (err) {
          assert.ok(err instanceof BadRequestError, `threw ${String(err)}`);
          assert.equal(err.status, 400);
          assert.ok(err.message.length > 0);
        }
      },
    );
  });

  test("any Livepeer-Eth-Address value parses or throws BadRequestError, nothing else", () => {
    check(
      "job sender junk",
      RUNS,
      [
        fc.option(fc.oneof(junkHeader, fc.record({ addr: fc.jsonValue(), sig: fc.jsonValue() }).map(b64)), {
          nil: undefined,
        }),
      ],
      (v) => {
        throwsOnly(() => parseJobSenderHeader(v), [BadRequestError]);
      },
    );
    check("job sender round trip", RUNS, [fc.record({ addr: text, sig: text })], (s) => {
      assert.deepEqual(parseJobSenderHeader(encodeJobSenderHeader(s)), structuredClone(s));
    });
  });
});

describe("fuzz: trickle paths", () => {
  test("parseSeq never throws and round-trips every safe integer it accepts", () => {
    check(
      "trickle seq",
      RUNS * 2,
      [fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String))],
      (s) => {
        const n = parseSeq(s);
        if (n === undefined) return;
        assert.ok(Number.isSafeInteger(n));
        assert.equal(String(n), s.replace(/^(-?)0+(?=\d)/, "$1").replace(/^-0$/, "0"));
      },
    );
    check("trickle seq integers", RUNS, [fc.maxSafeInteger()], (n) => {
      if (String(n).replace("-", "").length <= 15) assert.equal(parseSeq(String(n)), n);
    });
  });

  test("channelNameProblem never throws; accepted names are one URL path segment", () => {
    check("trickle channel name", RUNS * 2, [fc.string({ unit: "binary", maxLength: 300 })], (name) => {
      const problem = channelNameProblem(name);
      if (problem === undefined) {
        assert.equal(encodeURIComponent(name).length >= name.length, true);
        assert.ok(!name.includes("/") && name !== "." && name !== "..");
      } else assert.ok(problem.length > 0);
    });
  });
});

const ENTRY_KEYS = [
  "pipeline",
  "model_id",
  "url",
  "token",
  "warm",
  "capacity",
  "optimization_flags",
  "gateway",
  "price_per_unit",
  "pixels_per_unit",
  "currency",
  "price_unit",
  "capcity",
] as const;

describe("fuzz: aiModels.json", () => {
  const entry = fc.record({
    pipeline: fc.string({ minLength: 1, maxLength: 20 }),
    model_id: fc.string({ minLength: 1, maxLength: 20 }),
    url: fc.constantFrom("http://127.0.0.1:8000", "https://runner.example:9000/", "http://[::1]:1/x"),
    token: fc.string({ maxLength: 10 }),
    warm: fc.boolean(),
    capacity: fc.integer({ min: 1, max: 1_000_000 }),
    gateway: fc.option(
      address.map((a) => a.toLowerCase()),
      { nil: undefined },
    ),
    price_per_unit: fc.oneof(fc.nat(), fc.nat().map(String)),
    pixels_per_unit: fc.integer({ min: 1, max: 2 ** 40 }),
    currency: fc.constantFrom("", "wei", "WEI", "eth"),
    price_unit: fc.constantFrom("pixel", "frame", "second"),
  });

  test("valid entries parse to the values they were written with", () => {
    check(
      "aiModels round trip",
      RUNS,
      [
        fc
          .uniqueArray(entry, { maxLength: 5, selector: (e) => e.url + e.gateway })
          // Valid files only: a pipeline that is not built in is served as the BYOC capability named by
          // its model_id, so two different pipelines may not share one (the config refuses that).
          .filter((es) =>
            es.every((a) => es.every((b) => a.model_id !== b.model_id || a.pipeline === b.pipeline)),
          ),
      ],
      (entries) => {
        const models = parseAiModels(JSON.stringify(entries));
        assert.equal(models.length, entries.length);
        models.forEach((m, i) => {
          const e = entries[i]!;
          assert.equal(m.pipeline, e.pipeline);
          assert.equal(m.modelId, e.model_id);
          assert.equal(m.url, e.url.replace(/\/+$/, ""));
          assert.equal(m.capacity, e.capacity);
          assert.equal(m.warm, e.warm);
          assert.equal(m.pixelsPerUnit, BigInt(e.pixels_per_unit));
          assert.equal(m.priceUnit, e.price_unit);
          const factor = e.currency === "eth" ? 10n ** 18n : 1n;
          assert.equal(m.pricePerUnit.cmp(BigInt(e.price_per_unit) * factor), 0);
        });
      },
    );
  });

  /** A number as JSON source text, including forms that stress exact parsing. */
  const numberText = fc.oneof(
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc
      .tuple(fc.integer({ min: -9, max: 9 }), fc.integer({ min: -400, max: 400 }))
      .map(([m, e]) => `${m}e${e}`),
    fc.constantFrom("1e101", "1e-101", "-0", "0.0000", "1E+2", "123456789012345678901234567890"),
  );
  const anyValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    numberText,
    numberText.map((n) => JSON.stringify(n)),
  );
  /** An object with the real keys (and typos) holding arbitrary values, as JSON text. */
  const entryLike = fc.dictionary(fc.constantFrom(...ENTRY_KEYS), anyValue, { maxKeys: 12 }).map(
    (o) =>
      `{${Object.entries(o)
        .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
        .join(",")}}`,
  );
  /** A valid entry with some fields replaced by arbitrary values (reaches the checks after zod). */
  const entryWithJunk = fc
    .tuple(entry, fc.dictionary(fc.constantFrom(...ENTRY_KEYS), anyValue, { maxKeys: 3 }))
    .map(([e, junk]) => {
      const fields = Object.entries(e).map(([k, v]) => [k, JSON.stringify(v)] as const);
      const merged = new Map<string, string>([...fields, ...Object.entries(junk)]);
      return `{${[...merged].map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
    });
  const fileText = fc.oneof(
    fc.array(entryWithJunk, { minLength: 1, maxLength: 3 }).map((a) => `[${a.join(",")}]`),
    fc.array(entryLike, { maxLength: 4 }).map((a) => `[${a.join(",")}]`),
    fc.array(entry, { maxLength: 3 }).map((a) => JSON.stringify(a)),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 100 }),
    fc.nat({ max: 20_000 }).map((n) => "[".repeat(n)),
  );

  test("any file text validates or throws ConfigError listing its problems, nothing else", () => {
    check("aiModels junk", RUNS, [fileText], (t) => {
      throwsOnly(() => parseAiModels(t), [ConfigError]);
      try {
        parseAiModels(t);
      } catch (err) {
        assert.ok(err instanceof TributaryError && err.message.length > 0);
      }
    });
  });
});

describe("fuzz regressions (inputs the fuzzers found)", () => {
  test("aiModels.json: pixels_per_unit 1e101 is a ConfigError, not a RangeError", () => {
    const file = JSON.stringify([
      { pipeline: "p", model_id: "m", url: "http://127.0.0.1:1", pixels_per_unit: "1e101" },
    ]);
    assert.throws(
      () => parseAiModels(file),
      (err) => err instanceof ConfigError && /pixels_per_unit/.test(err.message),
    );
  });
});
