/**
 * Fuzzing of what the orchestrator reads out of uploaded media to bill it: the audio duration
 * (FFmpeg's demuxer through node-av, native code), multipart bodies and image sizes (PNG/JPEG
 * headers). Random and mutated files must give a value or a 400 (BadRequestError), never another
 * error, never a crash of the process; valid inputs give the right answer; the heap after GC stays
 * within {@link HEAP_GROWTH_LIMIT_BYTES}.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BadRequestError } from "../../src/node/errors.ts";
import { audioDurationSeconds } from "../../src/orchestrator/audio-duration.ts";
import { aiUnitsMultipart, imageSize } from "../../src/protocol/ai-units.ts";
import { parseMultipart } from "../../src/protocol/multipart.ts";
import { assertHeapStable, check, checkAsync, heapAfterGc, throwsOnly } from "./fuzz-util.ts";
import { bigBody } from "./http-util.ts";

const RUNS = 150;

/** A PCM WAV file: `seconds` of 8 kHz mono 16-bit silence. */
function wav(seconds: number): Buffer {
  const rate = 8000;
  const data = Math.round(seconds * rate) * 2;
  const b = Buffer.alloc(44 + data);
  b.write("RIFF", 0, "ascii");
  b.writeUInt32LE(36 + data, 4);
  b.write("WAVEfmt ", 8, "ascii");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36, "ascii");
  b.writeUInt32LE(data, 40);
  return b;
}

/** A PNG signature and IHDR of the given size (no image data: only the header is read). */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write("IHDR", 12, "ascii");
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

/** Bytes of `valid` with some bytes overwritten, dropped or inserted, or the file cut short. */
const mutatedFile = (valid: fc.Arbitrary<Buffer>) =>
  fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom("set", "drop", "insert")), {
        maxLength: 8,
      }),
      fc.option(fc.nat(), { nil: undefined }),
    )
    .map(([file, edits, cut]) => {
      const b = [...file];
      for (const [pos, value, kind] of edits) {
        const i = b.length === 0 ? 0 : pos % b.length;
        if (kind === "set" && b.length > 0) b[i] = value;
        else if (kind === "drop") b.splice(i, 1);
        else b.splice(i, 0, value);
      }
      const out = Buffer.from(cut === undefined ? b : b.slice(0, cut % (b.length + 1)));
      Object.defineProperty(out, fc.toStringMethod, { value: () => `<${out.length} bytes>` });
      return out;
    });

/** Random bytes behind the magic numbers FFmpeg probes for. */
const magicPrefixed = fc
  .tuple(
    fc.constantFrom(
      "RIFF",
      "ID3",
      "\xff\xfb",
      "OggS",
      "fLaC",
      "\x00\x00\x00\x18ftypM4A ",
      "G",
      "#!AMR\n",
      "",
    ),
    fc.uint8Array({ maxLength: 600 }),
  )
  .map(([magic, rest]) => Buffer.concat([Buffer.from(magic, "latin1"), Buffer.from(rest)]));

const audioFile = fc.oneof(
  { weight: 2, arbitrary: magicPrefixed },
  { weight: 3, arbitrary: mutatedFile(fc.double({ min: 0, max: 3, noNaN: true }).map(wav)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) },
);

describe("fuzz: media the orchestrator bills from", () => {
  test("audio duration: a valid WAV reads its length; any file gives a duration or a 400, the process survives", async () => {
    for (const seconds of [1, 2.5])
      assert.ok(Math.abs((await audioDurationSeconds(wav(seconds))) - seconds) < 0.01);
    await audioDurationSeconds(wav(1));
    const start = await heapAfterGc();
    await checkAsync("audio duration", RUNS, [audioFile], async (file) => {
      try {
        const seconds = await audioDurationSeconds(file);
        assert.ok(Number.isFinite(seconds) && seconds > 0, `duration ${seconds}`);
      } catch (err) {
        assert.ok(err instanceof BadRequestError, `threw ${String(err)}`);
      }
    });
    await assertHeapStable(start, "audio duration");
  });

  const part = (name: string, content: Buffer, filename?: string): Buffer =>
    Buffer.concat([
      Buffer.from(
        `--B\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ""}\r\n\r\n`,
      ),
      content,
      Buffer.from("\r\n"),
    ]);
  const imageFile = fc.oneof(
    mutatedFile(fc.tuple(fc.nat(), fc.nat()).map(([w, h]) => pngHeader(w, h))),
    mutatedFile(fc.constant(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x02, 0x00, 0x03, 0x00]))),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  );
  const multipart = fc
    .tuple(
      fc.array(
        fc.oneof(
          imageFile.map((f) => part("image", f, "x.png")),
          fc.string({ maxLength: 10 }).map((v) => part("model_id", Buffer.from(v))),
          fc
            .oneof(fc.nat().map(String), fc.string({ maxLength: 8 }))
            .map((v) => part("num_images_per_prompt", Buffer.from(v))),
          fc
            .oneof(fc.nat().map(String), fc.string({ maxLength: 8 }))
            .map((v) => part("height", Buffer.from(v))),
          fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
        ),
        { maxLength: 5 },
      ),
      fc.constantFrom("--B--\r\n", "", "--B"),
    )
    .map(([parts, end]) => Buffer.concat([...parts, Buffer.from(end)]));

  test("multipart bodies and image headers: units or a 400, nothing else", () => {
    assert.deepEqual(imageSize(pngHeader(640, 480)), { width: 640, height: 480 });
    check(
      "multipart units",
      RUNS * 3,
      [
        multipart,
        fc.constantFrom("image-to-image", "upscale", "image-to-video", "image-to-text", "llm"),
        fc.constantFrom(
          "multipart/form-data; boundary=B",
          'multipart/form-data; boundary="B"',
          "multipart/form-data",
        ),
      ],
      (body, pipeline, type) => {
        throwsOnly(() => aiUnitsMultipart(pipeline, parseMultipart(body, type)), [BadRequestError]);
      },
    );
    check("image size", RUNS * 3, [imageFile], (file) => {
      const size = imageSize(file);
      if (size !== undefined) assert.ok(Number.isInteger(size.width) && Number.isInteger(size.height));
    });
  });

  test("a large multipart body parses in bounded time and memory", () => {
    const body = Buffer.concat([
      Buffer.from('--B\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n\r\n'),
      bigBody(4 * 1024 * 1024, 0x2d),
    ]);
    throwsOnly(
      () => aiUnitsMultipart("upscale", parseMultipart(body, "multipart/form-data; boundary=B")),
      [BadRequestError],
    );
  });
});
