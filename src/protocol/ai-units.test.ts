/**
 * One case table for both nodes' AI units: what the orchestrator charges for a request as it
 * receives it, and what the gateway pays for it (after filling llm's `max_tokens`). Every row also
 * checks that the orchestrator, given the body the gateway sends, charges exactly what the gateway
 * paid for.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { aiPaymentUnits } from "../gateway/payments.ts";
import {
  aiRequestUnits,
  aiUnits,
  aiUnitsMultipart,
  DEFAULT_MAX_TOKENS,
  imageSize,
  withDefaultMaxTokens,
} from "./ai-units.ts";
import { parseMultipart } from "./multipart.ts";

function png(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  b.writeUInt32BE(0x89504e47, 0);
  b.writeUInt32BE(0x0d0a1a0a, 4);
  b.writeUInt32BE(13, 8);
  b.write("IHDR", 12, "ascii");
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

function jpeg(width: number, height: number): Buffer {
  // SOI, an APP0 segment of 16 bytes, then SOF0 with the size.
  const app0 = Buffer.concat([Buffer.from([0xff, 0xe0, 0x00, 0x10]), Buffer.alloc(14)]);
  const sof = Buffer.from([
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    3,
  ]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.alloc(16)]);
}

function multipart(
  fields: Record<string, string>,
  image?: Buffer,
  file = "image",
): { body: Buffer; type: string } {
  const b = "----tributary";
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (image)
    parts.push(
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="${file}"; filename="i"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      image,
      Buffer.from("\r\n"),
    );
  parts.push(Buffer.from(`--${b}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${b}` };
}

const json = (v: unknown) => ({ body: Buffer.from(JSON.stringify(v)), type: "application/json" });

/** One request and what each node makes of it. */
interface UnitsCase {
  name: string;
  pipeline: string;
  request: { body: Buffer; type: string };
  /** The orchestrator, on the request as the client wrote it: units, undefined (not from the body), or its 400. */
  orchestrator: bigint | undefined | RegExp;
  /** The gateway: the units it pays for, or its 400. */
  gateway: bigint | RegExp;
}

const CASES: UnitsCase[] = [
  {
    name: "text-to-image defaults",
    pipeline: "text-to-image",
    request: json({}),
    orchestrator: 512n * 512n,
    gateway: 512n * 512n,
  },
  {
    name: "text-to-image size and count",
    pipeline: "text-to-image",
    request: json({ height: 64, width: 32, num_images_per_prompt: 3 }),
    orchestrator: 64n * 32n * 3n,
    gateway: 64n * 32n * 3n,
  },
  {
    name: "text-to-image negative height",
    pipeline: "text-to-image",
    request: json({ height: -1 }),
    orchestrator: /height/,
    gateway: /height/,
  },
  {
    name: "text-to-image height as text",
    pipeline: "text-to-image",
    request: json({ height: "64" }),
    orchestrator: /height/,
    gateway: /height/,
  },
  {
    name: "llm max_tokens",
    pipeline: "llm",
    request: json({ max_tokens: 100 }),
    orchestrator: 100n,
    gateway: 100n,
  },
  {
    name: "llm without max_tokens: the gateway sends 256",
    pipeline: "llm",
    request: json({ prompt: "hi" }),
    orchestrator: /MaxTokens not specified/,
    gateway: 256n,
  },
  {
    name: "llm max_tokens null",
    pipeline: "llm",
    request: json({ max_tokens: null }),
    orchestrator: /MaxTokens not specified/,
    gateway: 256n,
  },
  {
    name: "llm max_tokens 0",
    pipeline: "llm",
    request: json({ max_tokens: 0 }),
    orchestrator: /max_tokens/,
    gateway: /max_tokens/,
  },
  {
    name: "llm max_tokens as text",
    pipeline: "llm",
    request: json({ max_tokens: "9" }),
    orchestrator: /max_tokens/,
    gateway: /max_tokens/,
  },
  {
    name: "text-to-speech characters",
    pipeline: "text-to-speech",
    request: json({ text: "héllo" }),
    orchestrator: 5000n,
    gateway: 5000n,
  },
  {
    name: "text-to-speech without text",
    pipeline: "text-to-speech",
    request: json({ text: 5 }),
    orchestrator: /text/,
    gateway: /text/,
  },
  {
    name: "image pipeline sent as JSON",
    pipeline: "image-to-image",
    request: json({}),
    orchestrator: undefined,
    gateway: 0n,
  },
  {
    name: "image-to-video sent as JSON",
    pipeline: "image-to-video",
    request: json({ height: 100 }),
    orchestrator: undefined,
    gateway: 0n,
  },
  {
    name: "a body neither JSON nor multipart",
    pipeline: "llm",
    request: { body: Buffer.from('{"max_tokens":5}'), type: "text/plain" },
    orchestrator: undefined,
    gateway: 0n,
  },
  {
    name: "invalid JSON",
    pipeline: "llm",
    request: { body: Buffer.from("{"), type: "application/json" },
    orchestrator: /not valid JSON/,
    gateway: /not valid JSON/,
  },
  {
    name: "image-to-image: input pixels × images",
    pipeline: "image-to-image",
    request: multipart({ model_id: "m", num_images_per_prompt: "2" }, png(64, 32)),
    orchestrator: 64n * 32n * 2n,
    gateway: 64n * 32n * 2n,
  },
  {
    name: "upscale JPEG",
    pipeline: "upscale",
    request: multipart({ model_id: "m" }, jpeg(10, 20)),
    orchestrator: 200n,
    gateway: 200n,
  },
  {
    name: "segment-anything-2",
    pipeline: "segment-anything-2",
    request: multipart({}, png(7, 3)),
    orchestrator: 21n,
    gateway: 21n,
  },
  {
    name: "image-to-text",
    pipeline: "image-to-text",
    request: multipart({}, png(5, 4)),
    orchestrator: 20n,
    gateway: 20n,
  },
  {
    name: "an image neither PNG nor JPEG",
    pipeline: "upscale",
    request: multipart({}, Buffer.from("GIF89a....")),
    orchestrator: undefined,
    gateway: 0n,
  },
  {
    name: "no image",
    pipeline: "upscale",
    request: multipart({ model_id: "m" }),
    orchestrator: /image field/,
    gateway: /image field/,
  },
  {
    name: "image-to-video from its fields",
    pipeline: "image-to-video",
    request: multipart({ height: "100" }, png(1, 1)),
    orchestrator: 100n * 1024n * 25n,
    gateway: 100n * 1024n * 25n,
  },
  {
    name: "image-to-video bad width",
    pipeline: "image-to-video",
    request: multipart({ width: "-3" }, png(1, 1)),
    orchestrator: /width/,
    gateway: /width/,
  },
  {
    name: "audio-to-text: the orchestrator decodes the audio",
    pipeline: "audio-to-text",
    request: multipart({ model_id: "m" }, Buffer.from("ID3"), "audio"),
    orchestrator: undefined,
    gateway: 0n,
  },
];

function outcome(f: () => bigint | undefined): bigint | undefined | Error {
  try {
    return f();
  } catch (err) {
    return err as Error;
  }
}

function expectOutcome(got: bigint | undefined | Error, want: bigint | undefined | RegExp, what: string) {
  if (want instanceof RegExp) {
    assert.ok(got instanceof Error, `${what}: expected a 400 ${want}, got ${String(got)}`);
    assert.equal((got as { status?: number }).status, 400, what);
    assert.match(got.message, want, what);
  } else assert.equal(got, want, what);
}

for (const c of CASES)
  test(`units: ${c.name}`, () => {
    const { body, type } = c.request;
    expectOutcome(
      outcome(() => aiRequestUnits(c.pipeline, type, body)),
      c.orchestrator,
      "orchestrator",
    );
    const sent = withDefaultMaxTokens(c.pipeline, type, body);
    const paid = outcome(() => aiPaymentUnits(c.pipeline, type, sent));
    expectOutcome(paid, c.gateway, "gateway");
    if (typeof paid === "bigint")
      assert.equal(
        aiRequestUnits(c.pipeline, type, sent) ?? 0n,
        paid,
        "the orchestrator charges what the gateway paid for",
      );
  });

test("the gateway adds max_tokens to an llm JSON body and keeps every other byte", () => {
  const t = "application/json";
  const big = Buffer.from(' {"model_id":"m","seed":123456789012345678901234567890}');
  const filled = withDefaultMaxTokens("llm", t, big).toString();
  assert.equal(
    filled,
    ` {"max_tokens":${DEFAULT_MAX_TOKENS},"model_id":"m","seed":123456789012345678901234567890}`,
  );
  assert.equal(withDefaultMaxTokens("llm", t, Buffer.from("{}")).toString(), '{"max_tokens":256}');
  assert.deepEqual(
    JSON.parse(withDefaultMaxTokens("llm", t, Buffer.from('{"a":1,"max_tokens":null}')).toString()),
    {
      a: 1,
      max_tokens: 256,
    },
  );
  for (const [pipeline, type, text] of [
    ["llm", t, '{"max_tokens":7}'],
    ["llm", t, "{"],
    ["llm", t, "[1]"],
    ["llm", "text/plain", "{}"],
    ["text-to-image", t, "{}"],
  ] as const) {
    const b = Buffer.from(text);
    assert.equal(withDefaultMaxTokens(pipeline, type, b), b, `${pipeline} ${type} ${text} is sent as is`);
  }
});

test("JSON units of pipelines priced from a form are not computed", () => {
  assert.equal(aiUnits("image-to-image", {}), undefined);
  assert.equal(aiUnits("text-to-image", null), 512n * 512n, "a body that is not an object has the defaults");
});

test("image sizes come from PNG and JPEG headers", () => {
  assert.deepEqual(imageSize(png(640, 480)), { width: 640, height: 480 });
  assert.deepEqual(imageSize(jpeg(300, 200)), { width: 300, height: 200 });
  assert.equal(imageSize(Buffer.from("GIF89a....")), undefined);
});

test("multipart units read the parsed form; audio is not computed", () => {
  const up = multipart({ model_id: "m" }, jpeg(10, 20));
  const form = parseMultipart(up.body, up.type);
  assert.equal(form.fields.model_id, "m");
  assert.equal(aiUnitsMultipart("upscale", form), 200n);
  assert.equal(aiUnitsMultipart("audio-to-text", form), undefined);
});
