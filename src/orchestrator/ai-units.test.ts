import assert from "node:assert/strict";
import { test } from "node:test";
import { aiUnits, aiUnitsMultipart, imageSize, parseMultipart } from "./ai-units.ts";

test("units per go-livepeer: pixels for text-to-image, tokens for llm, 1000 per character for TTS", () => {
  assert.equal(aiUnits("text-to-image", {}), 512n * 512n);
  assert.equal(aiUnits("text-to-image", { height: 64, width: 32, num_images_per_prompt: 3 }), 64n * 32n * 3n);
  assert.equal(aiUnits("llm", { max_tokens: 100 }), 100n);
  assert.equal(aiUnits("text-to-speech", { text: "héllo" }), 5000n);
  assert.equal(aiUnits("image-to-image", {}), undefined, "multipart pipelines are not computed");
});

test("missing or bad fields are 400s", () => {
  assert.throws(() => aiUnits("llm", {}), /MaxTokens not specified/);
  assert.throws(() => aiUnits("text-to-image", { height: -1 }), /height/);
  assert.throws(() => aiUnits("text-to-speech", { text: 5 }), /text/);
});

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

function multipart(fields: Record<string, string>, image?: Buffer): { body: Buffer; type: string } {
  const b = "----tributary";
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (image)
    parts.push(
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="image"; filename="i"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      image,
      Buffer.from("\r\n"),
    );
  parts.push(Buffer.from(`--${b}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${b}` };
}

test("image sizes come from PNG and JPEG headers", () => {
  assert.deepEqual(imageSize(png(640, 480)), { width: 640, height: 480 });
  assert.deepEqual(imageSize(jpeg(300, 200)), { width: 300, height: 200 });
  assert.equal(imageSize(Buffer.from("GIF89a....")), undefined);
});

test("multipart units: input image pixels (× images), image-to-video from fields, audio not computed", () => {
  const i2i = multipart({ model_id: "m", num_images_per_prompt: "2" }, png(64, 32));
  assert.equal(aiUnitsMultipart("image-to-image", parseMultipart(i2i.body, i2i.type)), 64n * 32n * 2n);
  const up = multipart({ model_id: "m" }, jpeg(10, 20));
  assert.equal(aiUnitsMultipart("upscale", parseMultipart(up.body, up.type)), 200n);
  const i2v = multipart({ height: "100" }, png(1, 1));
  assert.equal(aiUnitsMultipart("image-to-video", parseMultipart(i2v.body, i2v.type)), 100n * 1024n * 25n);
  assert.equal(aiUnitsMultipart("audio-to-text", parseMultipart(up.body, up.type)), undefined);
  const noImage = multipart({ model_id: "m" });
  assert.throws(() => aiUnitsMultipart("upscale", parseMultipart(noImage.body, noImage.type)), /image field/);
  assert.equal(parseMultipart(i2i.body, i2i.type).fields.model_id, "m");
});
