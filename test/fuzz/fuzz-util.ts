/**
 * What every fuzz suite shares: how many cases to run (env `TRIBUTARY_FUZZ_RUNS`), an optional fixed
 * seed (env `TRIBUTARY_FUZZ_SEED`, to replay a failure), a record of what ran for `npm run fuzz`
 * (env `TRIBUTARY_FUZZ_REPORT`), HTTP checks every server must pass, and a heap measurement after GC.
 *
 * On failure fast-check's error names the seed and path (`{ seed: 123, path: "4:1" }`); run the file
 * again with `TRIBUTARY_FUZZ_SEED=123` to replay it.
 */
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";

/**
 * Cases per property: `TRIBUTARY_FUZZ_RUNS` when set (the long run of `npm run fuzz`), else the
 * suite's default, chosen so that all of test/fuzz takes well under a minute in `npm test`.
 */
export function fuzzRuns(defaultRuns: number): number {
  const env = Number(process.env.TRIBUTARY_FUZZ_RUNS);
  return Number.isInteger(env) && env > 0 ? env : defaultRuns;
}

/** The fixed seed from `TRIBUTARY_FUZZ_SEED`, if any. */
export function fuzzSeed(): number | undefined {
  const env = process.env.TRIBUTARY_FUZZ_SEED;
  if (env === undefined || env === "") return undefined;
  const seed = Number(env);
  return Number.isInteger(seed) ? seed : undefined;
}

/** A random seed for this run, printed up front so that a crash (not only a failed property) can be replayed. */
function seedFor(name: string): number {
  const fixed = fuzzSeed();
  const seed = fixed ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  if (process.env.TRIBUTARY_FUZZ_VERBOSE) process.stderr.write(`# fuzz ${name}: seed ${seed}\n`);
  return seed;
}

function record(name: string, runs: number, failed: boolean, seed: number): void {
  const file = process.env.TRIBUTARY_FUZZ_REPORT;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ name, runs, failed, seed })}\n`);
}

/** Adds the seed to a failure's message, so the test output always says how to replay it. */
function withSeed(err: unknown, name: string, seed: number): Error {
  const text = err instanceof Error ? err.message : String(err);
  const out = new Error(`${text}\n(fuzz ${name}: replay with TRIBUTARY_FUZZ_SEED=${seed})`, { cause: err });
  return out;
}

/** Runs a synchronous property `runs` times (see {@link fuzzRuns}); the failure names its seed. */
export function check<Ts extends [unknown, ...unknown[]]>(
  name: string,
  defaultRuns: number,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => void,
): void {
  const numRuns = fuzzRuns(defaultRuns);
  const seed = seedFor(name);
  try {
    fc.assert(fc.property(...arbs, predicate), { numRuns, seed });
  } catch (err) {
    record(name, numRuns, true, seed);
    throw withSeed(err, name, seed);
  }
  record(name, numRuns, false, seed);
}

/** Runs an asynchronous property `runs` times; each case must settle within `caseTimeoutMs`. */
export async function checkAsync<Ts extends [unknown, ...unknown[]]>(
  name: string,
  defaultRuns: number,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>,
  caseTimeoutMs = 15_000,
): Promise<void> {
  const numRuns = fuzzRuns(defaultRuns);
  const seed = seedFor(name);
  const bounded = async (...args: Ts): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`case did not settle within ${caseTimeoutMs} ms`)),
        caseTimeoutMs,
      );
    });
    try {
      await Promise.race([predicate(...args), hang]);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await fc.assert(fc.asyncProperty(...arbs, bounded), { numRuns, seed });
  } catch (err) {
    record(name, numRuns, true, seed);
    throw withSeed(err, name, seed);
  }
  record(name, numRuns, false, seed);
}

/** Asserts `fn` throws only an instance of one of `allowed` (never a TypeError, RangeError, …). */
export function throwsOnly(
  fn: () => unknown,
  allowed: readonly (abstract new (...a: never[]) => Error)[],
): unknown {
  try {
    return fn();
  } catch (err) {
    if (allowed.some((cls) => err instanceof cls)) return undefined;
    throw new Error(
      `threw an untyped error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** A response as the HTTP fuzzers see it. */
export interface FuzzReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * The rules every answer to a fuzzed request obeys: a status at all, no 5xx outside `allowed5xx`, and
 * every 4xx (except 404/405/470, whose status is the message) carries a non-empty message — in our
 * JSON envelope, pytrickle's `{status, message}` or go-livepeer's plain text.
 */
export function assertSaneReply(
  reply: FuzzReply,
  allowed5xx: readonly number[],
  what: string,
  head = false,
): void {
  assert.ok(reply.status >= 100 && reply.status < 600, `${what}: status ${reply.status}`);
  if (reply.status >= 500)
    assert.ok(
      allowed5xx.includes(reply.status),
      `${what}: unexpected ${reply.status}: ${reply.body.slice(0, 300)}`,
    );
  if (!head && reply.status >= 400 && reply.status < 500 && reply.status !== 404 && reply.status !== 405) {
    const message = errorMessageOf(reply.body);
    assert.ok(
      message.trim().length > 0,
      `${what}: ${reply.status} without a message: ${JSON.stringify(reply.body)}`,
    );
  }
  if (reply.status >= 400)
    assert.ok(!/\n\s+at .+:\d+:\d+/.test(reply.body), `${what}: stack trace in the answer`);
}

/** The human message of an error body in any of the shapes our servers use. */
export function errorMessageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown }; message?: unknown; detail?: unknown };
    if (typeof parsed?.error?.message === "string") return parsed.error.message;
    if (typeof parsed?.message === "string") return parsed.message;
    if (typeof parsed?.detail === "string") return parsed.detail;
    return "";
  } catch {
    return body;
  }
}

let gcFn: (() => void) | undefined;

/** Heap in use after a full garbage collection (enables `gc` at run time: no `--expose-gc` needed). */
export async function heapAfterGc(): Promise<number> {
  if (gcFn === undefined) {
    setFlagsFromString("--expose-gc");
    gcFn = runInNewContext("gc") as () => void;
  }
  for (let i = 0; i < 3; i++) {
    gcFn();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/** Heap growth allowed over a fuzz run, after GC: far below what a per-request leak would add. */
export const HEAP_GROWTH_LIMIT_BYTES = 24 * 1024 * 1024;

/** Asserts the heap after GC grew by less than {@link HEAP_GROWTH_LIMIT_BYTES} since `start`. */
export async function assertHeapStable(start: number, what: string): Promise<void> {
  const end = await heapAfterGc();
  const grown = end - start;
  assert.ok(
    grown < HEAP_GROWTH_LIMIT_BYTES,
    `${what}: heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB after GC (start ${(start / 2 ** 20).toFixed(1)} MiB)`,
  );
}

/** Arbitrary header-ish text: printable ASCII, as an HTTP client can send it. */
export const headerText = (maxLength = 200): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Standard base64 of arbitrary bytes. */
export const base64Bytes = (maxLength = 300): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString("base64"));

/** Standard base64 of arbitrary JSON. */
export const base64Json = (): fc.Arbitrary<string> =>
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v)).toString("base64"));

const tallies = new Map<string, number>();

/** Counts one outcome (printed by {@link printTally} when `TRIBUTARY_FUZZ_VERBOSE` is set). */
export function tally(key: string): void {
  tallies.set(key, (tallies.get(key) ?? 0) + 1);
}

/** Prints and clears the outcome counts when `TRIBUTARY_FUZZ_VERBOSE` is set: what the run exercised. */
export function printTally(name: string): void {
  if (process.env.TRIBUTARY_FUZZ_VERBOSE) {
    const rows = [...tallies].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`);
    process.stderr.write(`# fuzz ${name} outcomes: ${rows.join(", ")}\n`);
  }
  tallies.clear();
}
