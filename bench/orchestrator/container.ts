/**
 * The benchmark's batch container in its own process: examples/text-reverse on 127.0.0.1, port 0.
 * Prints `LISTENING <url>` once it serves, and exits when its stdin closes (so it never outlives the
 * benchmark).
 *
 *   node bench/orchestrator/container.ts
 */
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { startRunner } from "../../src/runner/index.ts";

const runner = await startRunner(textReverse, { port: 0 });
await runner.loaded;
process.stdout.write(`LISTENING ${runner.url}\n`);
process.stdin.resume();
process.stdin.on("end", () => void runner.close().then(() => process.exit(0)));
process.on("SIGTERM", () => void runner.close().then(() => process.exit(0)));
