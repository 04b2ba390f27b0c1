/** The SDK version reported by `GET /version` (pytrickle reports its package version there). */
import { readFileSync } from "node:fs";

/** The `tributary` package version. */
export const version: string = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
