/**
 * Capability ids and capability bitstrings, as go-livepeer core/capabilities.go defines them
 * (docs/spec/orchestrator-gateway.md#ai-pipelines, #capabilities-message). The one table both the orchestrator (which
 * advertises) and the gateway (which matches) use. Pure, no I/O.
 */

/** Capability ids (go-livepeer core/capabilities.go; docs/spec/orchestrator-gateway.md#capability-ids). */
export const CAPABILITY = {
  H264: 0,
  MPEGTS: 1,
  MP4: 2,
  FractionalFramerates: 3,
  StorageDirect: 4,
  StorageS3: 5,
  StorageGCS: 6,
  ProfileH264Baseline: 7,
  ProfileH264Main: 8,
  ProfileH264High: 9,
  ProfileH264ConstrainedHigh: 10,
  GOP: 11,
  AuthToken: 12,
  SceneClassification: 13,
  MPEG7VideoSignature: 14,
  SegmentSlicing: 26,
  TextToImage: 27,
  ImageToImage: 28,
  ImageToVideo: 29,
  Upscale: 30,
  AudioToText: 31,
  SegmentAnything2: 32,
  LLM: 33,
  ImageToText: 34,
  LiveVideoToVideo: 35,
  TextToSpeech: 36,
  BYOC: 37,
} as const;

/** `DefaultCapabilities()` (go-livepeer core/capabilities.go; docs/spec/orchestrator-gateway.md#capability-ids). */
export const DEFAULT_CAPABILITIES: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 26];

/** `MandatoryOCapabilities()` (go-livepeer core/capabilities.go): AuthToken. */
export const MANDATORY_O_CAPABILITIES: readonly number[] = [CAPABILITY.AuthToken];

/** AI pipeline name → capability id (docs/spec/orchestrator-gateway.md#ai-pipelines). `byoc` is listed although upstream's lookup skips it. */
export const PIPELINE_CAPABILITY: Readonly<Record<string, number>> = {
  "text-to-image": CAPABILITY.TextToImage,
  "image-to-image": CAPABILITY.ImageToImage,
  "image-to-video": CAPABILITY.ImageToVideo,
  upscale: CAPABILITY.Upscale,
  "audio-to-text": CAPABILITY.AudioToText,
  "segment-anything-2": CAPABILITY.SegmentAnything2,
  llm: CAPABILITY.LLM,
  "image-to-text": CAPABILITY.ImageToText,
  "live-video-to-video": CAPABILITY.LiveVideoToVideo,
  "text-to-speech": CAPABILITY.TextToSpeech,
  byoc: CAPABILITY.BYOC,
};

/** The capability id of an AI pipeline name, or undefined for an unknown pipeline. */
export function pipelineToCapability(pipeline: string): number | undefined {
  return Object.hasOwn(PIPELINE_CAPABILITY, pipeline) ? PIPELINE_CAPABILITY[pipeline] : undefined;
}

/** The pipeline name of an AI capability id, or undefined if the id is not an AI pipeline. */
export function capabilityToPipeline(capability: number): string | undefined {
  for (const [name, id] of Object.entries(PIPELINE_CAPABILITY)) if (id === capability) return name;
  return undefined;
}

/** True if bit `capability` is set in a capability bitstring (bit i of word i/64). */
export function hasCapabilityBit(bitstring: readonly bigint[], capability: number): boolean {
  const word = bitstring[Math.floor(capability / 64)];
  return word !== undefined && ((word >> BigInt(capability % 64)) & 1n) === 1n;
}

/** A bitstring with the given capability bits set, grown to the needed number of words. */
export function capabilityBitstring(capabilities: Iterable<number>): bigint[] {
  const words: bigint[] = [];
  for (const c of capabilities) {
    const i = Math.floor(c / 64);
    while (words.length <= i) words.push(0n);
    words[i] = (words[i] as bigint) | (1n << BigInt(c % 64));
  }
  return words;
}

/** The capability ids whose bits are set in a bitstring, ascending. */
export function capabilityIds(bitstring: readonly bigint[]): number[] {
  const out: number[] = [];
  bitstring.forEach((word, i) => {
    for (let b = 0; b < 64; b++) if (((word >> BigInt(b)) & 1n) === 1n) out.push(i * 64 + b);
  });
  return out;
}
