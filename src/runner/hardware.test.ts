import assert from "node:assert/strict";
import { test } from "node:test";
import { gpuInfo, gpuStats, nvidiaSmiProbe, parseNvidiaSmi } from "./hardware.ts";

const SAMPLE =
  "0, GPU-1234-abcd, NVIDIA GeForce RTX 4090, 24564, 23000, 7, 3, 8.9\n" +
  "1, GPU-5678-efgh, Tesla T4, 15360, [N/A], [N/A], [N/A], [N/A]\n";

test("nvidia-smi CSV becomes pytrickle's gpu_info and gpu_stats maps, memory in bytes", () => {
  const devices = parseNvidiaSmi(SAMPLE);
  assert.equal(devices.length, 2);
  assert.deepEqual(gpuInfo(devices)["0"], {
    id: "GPU-1234-abcd",
    name: "NVIDIA GeForce RTX 4090",
    memory_total: 24564 * 1024 * 1024,
    memory_free: 23000 * 1024 * 1024,
    major: 8,
    minor: 9,
  });
  assert.deepEqual(gpuStats(devices)["1"], {
    id: "GPU-5678-efgh",
    name: "Tesla T4",
    memory_total: 15360 * 1024 * 1024,
    memory_free: 0,
    utilization_compute: 0,
    utilization_memory: 0,
  });
  assert.deepEqual(parseNvidiaSmi("garbage\n\n"), []);
});

test("the probe never rejects (an empty list where nvidia-smi is missing)", async () => {
  const devices = await nvidiaSmiProbe();
  assert.ok(Array.isArray(devices));
});
