import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import { resolveHttpLimits } from "../node/http/limits.ts";
import { addHttpLimitOptions, type HttpLimitCliOptions, httpLimitsOf, parseByteSize } from "./http-limits.ts";

const parse = (http2: boolean, argv: string[]) => {
  const cmd = addHttpLimitOptions(
    new Command("x").exitOverride().configureOutput({ writeErr: () => {} }),
    http2,
  );
  cmd.parse(argv, { from: "user" });
  return httpLimitsOf(cmd.opts<HttpLimitCliOptions>());
};

test("sizes take bytes or KiB/MiB/GiB; anything else is refused", () => {
  assert.equal(parseByteSize("1048576"), 1024 * 1024);
  assert.equal(parseByteSize("64KiB"), 64 * 1024);
  assert.equal(parseByteSize("2mib"), 2 * 1024 * 1024);
  for (const bad of ["0", "-1", "1.5MiB", "1MB", "", "x"])
    assert.throws(() => parseByteSize(bad), /positive size/);
});

test("the HTTP limit flags default to Go's limits and override them", () => {
  assert.deepEqual(resolveHttpLimits(parse(true, [])), resolveHttpLimits());
  assert.deepEqual(parse(false, []), { maxHeaderBytes: 1024 * 1024, headersTimeoutMs: 30_000 });
  const set = parse(true, [
    "--max-header-bytes",
    "64KiB",
    "--headers-timeout",
    "5s",
    "--http2-idle-timeout",
    "1m",
    "--http2-max-streams",
    "100",
    "--http2-max-upload-bytes",
    "16MiB",
  ]);
  assert.deepEqual(set, {
    maxHeaderBytes: 64 * 1024,
    headersTimeoutMs: 5000,
    idleTimeoutMs: 60_000,
    maxConcurrentStreams: 100,
    maxSessionUploadBytes: 16 * 1024 * 1024,
  });
  assert.throws(() => parse(false, ["--http2-max-streams", "5"]), /unknown option/);
  assert.throws(() => parse(true, ["--http2-max-streams", "0"]), /positive integer/);
});
