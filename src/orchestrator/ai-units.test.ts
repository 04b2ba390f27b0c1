import assert from "node:assert/strict";
import { test } from "node:test";
import { aiUnits } from "./ai-units.ts";

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
