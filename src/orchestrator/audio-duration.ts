/**
 * Billing units of a priced audio-to-text request (go-livepeer `handleAIRequest`: the duration that
 * `common.CalculateAudioDuration` reads with FFmpeg, as whole seconds — a Go int64 — times 1000,
 * i.e. milliseconds rounded down to the second). The duration is what FFmpeg's demuxer reports
 * (node-av), so any container/codec FFmpeg opens works: WAV, MP3, FLAC, Ogg, MPEG-TS, MP4, …
 * Audio that FFmpeg cannot open, without an audio stream, or shorter than one second is a 400, as
 * upstream ("Unable to calculate duration").
 */
import type { Demuxer } from "node-av/api";
import { BadRequestError } from "../node/errors.ts";

/**
 * FFmpeg (node-av and its native libraries, about 40 MiB resident) is loaded on the first priced
 * audio request, not with the orchestrator: most orchestrators never price audio.
 */
async function ffmpeg(): Promise<{ Demuxer: typeof Demuxer }> {
  const [api, log] = await Promise.all([import("node-av/api"), import("../media/ffmpeg-log.ts")]);
  log.silenceFfmpegLogs();
  return api;
}

function unreadable(why: string): BadRequestError {
  return new BadRequestError(`Unable to calculate duration: ${why}`, { code: "BAD_AUDIO" });
}

/** The duration in seconds FFmpeg reports for an audio file (fractional). Throws 400 BAD_AUDIO. */
export async function audioDurationSeconds(audio: Buffer): Promise<number> {
  if (audio.length === 0) throw unreadable("the audio file is empty");
  const { Demuxer } = await ffmpeg();
  let demuxer: Demuxer;
  try {
    demuxer = await Demuxer.open(audio);
  } catch {
    throw unreadable(
      "the audio file could not be decoded (send WAV, MP3, FLAC, Ogg, M4A or another format FFmpeg reads)",
    );
  }
  try {
    if (demuxer.audio() === undefined) throw unreadable("the file has no audio stream");
    const seconds = demuxer.duration;
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw unreadable("the audio file does not state its duration");
    return seconds;
  } finally {
    await demuxer.close();
  }
}

/** go-livepeer's audio-to-text units: whole seconds × 1000 (≥ 1 s, else 400). */
export async function audioToTextUnits(audio: Buffer | undefined): Promise<bigint> {
  if (audio === undefined) throw new BadRequestError("the audio field is required", { code: "BAD_AUDIO" });
  const whole = Math.floor(await audioDurationSeconds(audio));
  if (whole < 1) throw unreadable("the audio is shorter than one second");
  return BigInt(whole) * 1000n;
}
