/**
 * The operator listener: plain HTTP, meant for loopback (go-livepeer's CLI server, `-cliAddr`,
 * default 127.0.0.1:7935), with one route so far:
 *
 * `POST /registerLiveRunners` with a `{"runners": [...]}` document (runners/config.ts): validates the
 * whole batch (400 `INVALID_RUNNERS_CONFIG` naming `runners[i]`, nothing registered), health checks
 * each entry, upserts by label and answers `{"runners": [{runner_id, label, app, runner_url, mode, health_url, healthy_status_code, healthy}]}` (go-livepeer's);
 * 405 for another method; 404 for other paths. It has no authentication of its own, as upstream:
 * keep it on loopback (`--cli-addr`).
 */
import { createServer, type Server } from "node:http";
import { NotFoundError } from "../../node/errors.ts";
import { readJsonObject } from "../../node/http/body.ts";
import { closeServer, listen, originOf } from "../../node/http/listen.ts";
import { MethodNotAllowedError, pathOf } from "../../node/http/router.ts";
import { sendError, sendJson } from "../../node/http/send.ts";
import type { LiveRunners } from "./service.ts";

/** Port of the operator listener in the CLI (go-livepeer's CLI port, 7935). */
export const DEFAULT_OPERATOR_PORT = 7935;

/** A running operator listener. */
export interface OperatorListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the operator listener on `host:port` (0 picks one). */
export async function startOperatorListener(
  runners: LiveRunners,
  host: string,
  port: number,
): Promise<OperatorListener> {
  const server: Server = createServer((req, res) => {
    const handle = async (): Promise<void> => {
      if (pathOf(req.url) !== "/registerLiveRunners")
        throw new NotFoundError(`no route ${req.method} ${pathOf(req.url)}`);
      if (req.method !== "POST") {
        res.setHeader("Allow", "POST");
        throw new MethodNotAllowedError(["POST"]);
      }
      const doc = await readJsonObject(req);
      sendJson(res, 200, { runners: await runners.registerStatic(doc) });
    };
    handle().catch((err: unknown) => sendError(res, err));
  });
  const bound = await listen(server, host, port);
  return { url: originOf("http", host, bound), port: bound, close: () => closeServer(server) };
}
