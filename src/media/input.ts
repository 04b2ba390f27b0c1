/**
 * The decode side of the media path (docs/spec/container-contract.md#decode-path, #media-on-the-wire): one demuxer reads
 * the input channel's segments as one continuous MPEG-TS stream (a {@link SegmentByteQueue} behind
 * node-av's custom-IO callbacks), decodes the first video stream (H.264) and the first audio stream
 * (AAC or Opus), caps the video frame rate by PTS, scales to cover the target size and center-crops
 * it, and hands out frames in the pixel format asked for (packed RGB24 by default, or planar
 * yuv420p: then a frame that already has the target size and format is copied out as decoded, with
 * no scaling or colour conversion) and interleaved s16 PCM.
 */
import { Decoder, Demuxer, FilterAPI } from "node-av/api";
import { AV_PIX_FMT_YUV420P } from "node-av/constants";
import type { Frame, Packet, Stream } from "node-av/lib";
import { TributaryError } from "../node/errors.ts";
import type { SegmentByteQueue } from "./byte-queue.ts";
import { silenceFfmpegLogs } from "./ffmpeg-log.ts";
import { PtsFrameRateCap } from "./fps.ts";
import type { AudioFrame, PixelFormat, TimeBase, VideoFrame } from "./frames.ts";

/** FFmpeg's AV_NOPTS_VALUE. */
const NOPTS = -0x8000000000000000n;

/** The input could not be demuxed or decoded (not MPEG-TS, corrupt, unsupported codec). */
export class MediaDecodeError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("MEDIA_DECODE_FAILED", message, { cause, status: 502 });
  }
}

/** Options of {@link decodeInput}. */
export interface DecodeInputOptions {
  /** The input bytes (segments joined). */
  queue: SegmentByteQueue;
  /** Target frame size, read per frame (runtime `width`/`height` updates apply). */
  size: () => { width: number; height: number };
  /** Frame-rate cap, read per frame (runtime `max_framerate` updates apply). */
  maxFramerate: () => number;
  /** Pixel format of the frames handed to `onVideo` (default `rgb24`). */
  pixelFormat?: PixelFormat;
  /**
   * Receives each kept video frame (in `pixelFormat`, at the target size). A returned promise holds
   * the decoder until it settles (backpressure: the consumer has no room yet).
   */
  onVideo: (frame: VideoFrame) => void | Promise<void>;
  /** Receives each decoded audio chunk (interleaved s16). */
  onAudio: (frame: AudioFrame) => void;
  /**
   * Called for every decoded video frame before the cap (ingress fps), with its media time in
   * seconds and whether it is a keyframe (each input segment starts on one).
   */
  onVideoDecoded?: (info: { seconds: number; keyFrame: boolean }) => void;
  /** Checked per packet: when it returns true, decoding ends at once (no flush). */
  stopped?: () => boolean;
  /** Called once the streams are known. */
  onOpened?: (info: { video: boolean; audio: boolean }) => void;
}

function tb(r: { num: number; den: number }): TimeBase {
  return { num: r.num, den: r.den };
}

function coverCropFilter(width: number, height: number, format: PixelFormat): string {
  return (
    `scale=w=${width}:h=${height}:force_original_aspect_ratio=increase:flags=bilinear,` +
    // exact: a yuv420p crop keeps odd sizes and offsets instead of rounding them to even.
    `crop=${width}:${height}:exact=1,format=${format}`
  );
}

/** FFmpeg's AVERROR(ENOSYS): the answer to every seek request of {@link refuseSeek}. */
const AVERROR_ENOSYS = -38;

/**
 * The input's seek callback: it refuses every seek (the input is a live byte stream), but its mere
 * presence marks FFmpeg's AVIOContext seekable, which stops the MPEG-TS demuxer from growing the
 * context's read buffer to a seek-back window of `probesize` (5 MB) with
 * `ffio_ensure_seekback`. That matters because node-av's `IOContext.freeContext()` (6.1.1) frees
 * the AVIOContext but not its buffer: without this callback every stream leaked up to 5 MB of
 * native memory (as many bytes as it read, up to the window); with it, the leak is the 32 KiB
 * buffer once per demuxer. Backward seeks the demuxer makes while probing stay inside that buffer
 * (FFmpeg serves them without calling here); size queries (`AVSEEK_SIZE`) get an error, so no
 * duration estimation seeks to the end.
 */
function refuseSeek(): number {
  return AVERROR_ENOSYS;
}

/**
 * Opens an MPEG-TS demuxer over `queue` (node-av custom IO with {@link refuseSeek}); the caller
 * closes it. Rejects when the first bytes are not MPEG-TS.
 */
export function openInputDemuxer(queue: SegmentByteQueue): Promise<Demuxer> {
  return Demuxer.open({ read: (size: number) => queue.read(size), seek: refuseSeek }, {
    format: "mpegts",
    options: { analyzeduration: 1_000_000 },
  } as never);
}

/**
 * Demuxes and decodes `queue` until its end. Resolves when the input ends (the queue's `end()`);
 * rejects with {@link MediaDecodeError} when the bytes are not decodable MPEG-TS.
 */
export async function decodeInput(opts: DecodeInputOptions): Promise<void> {
  silenceFfmpegLogs();
  let demuxer: Demuxer;
  try {
    demuxer = await openInputDemuxer(opts.queue);
  } catch (err) {
    if (opts.queue.ended && opts.queue.bytesIn === 0) return; // no input at all: a clean end
    throw new MediaDecodeError(`cannot open the input as MPEG-TS: ${(err as Error).message}`, err);
  }
  const videoStream: Stream | undefined = demuxer.video();
  const audioStream: Stream | undefined = demuxer.audio();
  let video: Decoder | undefined;
  let audio: Decoder | undefined;
  let scaler: FilterAPI | undefined;
  let scalerSize = "";
  let audioFmt: FilterAPI | undefined;
  const cap = new PtsFrameRateCap();
  const pixelFormat: PixelFormat = opts.pixelFormat ?? "rgb24";
  try {
    if (!videoStream && !audioStream) throw new MediaDecodeError("the input has no audio or video stream");
    video = videoStream ? await Decoder.create(videoStream) : undefined;
    audio = audioStream ? await Decoder.create(audioStream) : undefined;
    opts.onOpened?.({ video: video !== undefined, audio: audio !== undefined });
    const vtb = videoStream ? tb(videoStream.timeBase) : { num: 1, den: 90000 };
    const atb = audioStream ? tb(audioStream.timeBase) : { num: 1, den: 90000 };

    const onVideoFrame = async (frame: Frame) => {
      const pts = frame.pts === NOPTS ? (frame.bestEffortTimestamp ?? 0n) : frame.pts;
      const seconds = (Number(pts) * vtb.num) / vtb.den;
      opts.onVideoDecoded?.({ seconds, keyFrame: frame.keyFrame === 1 });
      if (!cap.accept(seconds, opts.maxFramerate())) return;
      const { width, height } = opts.size();
      if (
        pixelFormat === "yuv420p" &&
        frame.format === AV_PIX_FMT_YUV420P &&
        frame.width === width &&
        frame.height === height
      ) {
        // Already what the pipeline asked for: one copy out of the decoder's frame, no filter.
        await opts.onVideo({
          data: frame.toBuffer(),
          width,
          height,
          pts: Number(pts),
          timeBase: vtb,
          format: pixelFormat,
        });
        return;
      }
      const key = `${width}x${height}`;
      if (!scaler || key !== scalerSize) {
        scaler?.close();
        scaler = FilterAPI.create(coverCropFilter(width, height, pixelFormat));
        scalerSize = key;
      }
      const outs = await scaler.processAll(frame);
      const kept: VideoFrame[] = [];
      for (const out of outs) {
        const data = out.toBuffer();
        kept.push({
          data,
          width: out.width,
          height: out.height,
          pts: Number(pts),
          timeBase: vtb,
          format: pixelFormat,
        });
        out.free();
      }
      for (const f of kept) await opts.onVideo(f);
    };
    const onAudioFrame = async (frame: Frame) => {
      audioFmt ??= FilterAPI.create("aformat=sample_fmts=s16");
      const pts = frame.pts === NOPTS ? 0n : frame.pts;
      for (const out of await audioFmt.processAll(frame)) {
        const buf = out.toBuffer();
        const channels = out.channelLayout.nbChannels || 1;
        const samples = out.nbSamples;
        const sampleRate = out.sampleRate;
        out.free();
        const data = new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 2));
        opts.onAudio({
          data: data.slice(0, samples * channels),
          sampleRate,
          channels,
          samples,
          pts: Number(pts),
          timeBase: atb,
        });
      }
    };
    const handle = async (dec: Decoder, pkt: Packet | null, isVideo: boolean) => {
      for (const frame of await dec.decodeAll(pkt)) {
        try {
          if (isVideo) await onVideoFrame(frame);
          else await onAudioFrame(frame);
        } finally {
          frame.free();
        }
      }
    };
    for await (const pkt of demuxer.packets()) {
      if (!pkt) break;
      if (opts.stopped?.()) {
        pkt.free();
        return;
      }
      try {
        if (video && videoStream && pkt.streamIndex === videoStream.index) await handle(video, pkt, true);
        else if (audio && audioStream && pkt.streamIndex === audioStream.index)
          await handle(audio, pkt, false);
      } finally {
        pkt.free();
      }
    }
    if (video) await handle(video, null, true);
    if (audio) await handle(audio, null, false);
  } catch (err) {
    if (err instanceof MediaDecodeError) throw err;
    throw new MediaDecodeError(`decoding the input failed: ${(err as Error).message}`, err);
  } finally {
    scaler?.close();
    audioFmt?.close();
    video?.close();
    audio?.close();
    await demuxer.close().catch(() => {});
  }
}
