/**
 * One GET of a container's or runner's health or info URL, as the orchestrator's health checks make
 * it: no connection reuse, self-signed TLS accepted, a timeout, a bounded body. Never throws.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** What {@link probeGet} got: the status and, when asked for, the body. */
export interface ProbeAnswer {
  status: number;
  body: Buffer;
}

/** Options of {@link probeGet}. */
export interface ProbeOptions {
  timeoutMs: number;
  /** Bearer token to send. */
  token?: string;
  /**
   * Read the body (asking for JSON) up to this many bytes; a larger body is no answer. Without it the
   * answer comes with the status line and the body is empty.
   */
  maxBytes?: number;
}

/** GETs `url`; undefined on a bad URL, no answer, a timeout or a body over `maxBytes`. */
export function probeGet(url: string, options: ProbeOptions): Promise<ProbeAnswer | undefined> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve(undefined);
      return;
    }
    const { maxBytes, token } = options;
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    const headers: Record<string, string> = {};
    if (maxBytes !== undefined) headers.accept = "application/json";
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const req = request(
      target,
      { method: "GET", headers, agent: false, rejectUnauthorized: false },
      (res) => {
        const status = res.statusCode ?? 0;
        if (maxBytes === undefined) {
          res.resume();
          resolve({ status, body: Buffer.alloc(0) });
          return;
        }
        const parts: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy();
          else parts.push(c);
        });
        res.on("end", () => resolve({ status, body: Buffer.concat(parts) }));
        res.on("error", () => resolve(undefined));
      },
    );
    req.setTimeout(options.timeoutMs, () => req.destroy(new Error("probe timed out")));
    req.on("error", () => resolve(undefined));
    req.end();
  });
}
