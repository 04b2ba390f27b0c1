/** FFmpeg's own logging (stderr) is turned off once (errors reach us as exceptions), so encoders do not flood the console. */
import { AV_LOG_QUIET } from "node-av/constants";
import { Log } from "node-av/lib";

let done = false;

/** Sets FFmpeg's log level to quiet (idempotent). */
export function silenceFfmpegLogs(): void {
  if (done) return;
  done = true;
  Log.setLevel(AV_LOG_QUIET);
}
