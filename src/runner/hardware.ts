/**
 * GPU facts for `GET /hardware/info` and `/hardware/stats`, in pytrickle's shapes (`GPUComputeInfo`,
 * `GPUUtilizationInfo`, keyed by device index). pytrickle reads NVML; we ask `nvidia-smi`, which the
 * NVIDIA container toolkit puts into GPU containers. Without it (CPU-only machines), both maps are
 * empty, exactly what pytrickle answers when NVML is unavailable.
 *
 * Field meanings: `id` = GPU UUID, `memory_total`/`memory_free` = bytes, `major`/`minor` = CUDA
 * compute capability, `utilization_compute`/`utilization_memory` = percent over the driver's last
 * sample period.
 */
import { execFile } from "node:child_process";

/** One GPU as `nvidia-smi` reports it. */
export interface GpuDevice {
  index: string;
  id: string;
  name: string;
  memoryTotal: number;
  memoryFree: number;
  major: number;
  minor: number;
  utilizationCompute: number;
  utilizationMemory: number;
}

/** Reads the GPUs; resolves [] when there are none or the probe fails. */
export type GpuProbe = () => Promise<GpuDevice[]>;

/** The `nvidia-smi --query-gpu` fields {@link parseNvidiaSmi} expects, in order. */
export const NVIDIA_SMI_FIELDS =
  "index,uuid,name,memory.total,memory.free,utilization.gpu,utilization.memory,compute_cap";

const MIB = 1024 * 1024;

function num(text: string | undefined): number {
  const n = Number(text?.trim());
  return Number.isFinite(n) ? n : 0;
}

/** Parses `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` output. "[N/A]" reads as 0. */
export function parseNvidiaSmi(output: string): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const line of output.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split(",").map((s) => s.trim());
    if (f.length < 8) continue;
    const [major, minor] = (f[7] ?? "").split(".");
    out.push({
      index: f[0]!,
      id: f[1]!,
      name: f[2]!,
      memoryTotal: num(f[3]) * MIB,
      memoryFree: num(f[4]) * MIB,
      utilizationCompute: num(f[5]),
      utilizationMemory: num(f[6]),
      major: num(major),
      minor: num(minor),
    });
  }
  return out;
}

/** Asks `nvidia-smi` (2 s timeout). Never rejects. */
export const nvidiaSmiProbe: GpuProbe = () =>
  new Promise((resolve) => {
    execFile(
      "nvidia-smi",
      [`--query-gpu=${NVIDIA_SMI_FIELDS}`, "--format=csv,noheader,nounits"],
      { timeout: 2000, windowsHide: true },
      (err, stdout) => resolve(err ? [] : parseNvidiaSmi(stdout)),
    );
  });

/** pytrickle's `gpu_info` map. */
export function gpuInfo(devices: readonly GpuDevice[]): Record<string, unknown> {
  return Object.fromEntries(
    devices.map((d) => [
      d.index,
      {
        id: d.id,
        name: d.name,
        memory_total: d.memoryTotal,
        memory_free: d.memoryFree,
        major: d.major,
        minor: d.minor,
      },
    ]),
  );
}

/** pytrickle's `gpu_stats` map. */
export function gpuStats(devices: readonly GpuDevice[]): Record<string, unknown> {
  return Object.fromEntries(
    devices.map((d) => [
      d.index,
      {
        id: d.id,
        name: d.name,
        memory_total: d.memoryTotal,
        memory_free: d.memoryFree,
        utilization_compute: d.utilizationCompute,
        utilization_memory: d.utilizationMemory,
      },
    ]),
  );
}
