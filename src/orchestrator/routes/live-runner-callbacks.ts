/**
 * The runner session callbacks of the Live Runner API, under `/runner/{id}/session/{sid}/`, all
 * authorized by the session's `Livepeer-Session-Token` (401 otherwise; 404 for no such session):
 *
 * | route | answers |
 * |---|---|
 * | `POST …/channels` | `{"channels":[{name, channel_name, url, internal_url, mime_type}]}`: trickle channels on our trickle server, idempotent per name; at most 25 per request and per session (400) |
 * | `DELETE …/channels` | `{"deleted":[…]}`; 404 when one is unknown (then nothing is deleted) |
 * | `POST …/proxy` | `{proxy_id, url}`: a generated proxy to `target_url` (the runner's hostname only) or the runner's URL; at most 25 per session |
 * | `POST …/stop` | 204: the runner releases its own session |
 */
import { BadRequestError, NotFoundError } from "../../node/errors.ts";
import type { NodeRequest } from "../../node/server.ts";
import { readJsonBody } from "../context.ts";
import { header, sendJson } from "../http.ts";
import { checkProxyTarget } from "../runners/proxy.ts";
import { RunnerUnauthorizedError } from "../runners/registry.ts";
import { noContent, seg, underRunners } from "../runners/routing.ts";
import { sameSecret } from "../runners/secrets.ts";
import type { LiveRunners } from "../runners/service.ts";

/** Most channels one session holds, and most names one request may carry (go-livepeer: 25 per request). */
export const MAX_SESSION_CHANNELS = 25;
/** Most generated proxies one session holds. */
export const MAX_SESSION_PROXIES = 25;

const CHANNEL_NAME = /^[A-Za-z0-9_-]+$/;

/** A session's runner callbacks: the token must match. */
function authorized(runners: LiveRunners, req: NodeRequest, route: string, sid: string) {
  const found = runners.registry.session(route, sid);
  const token = header(req.headers, "livepeer-session-token");
  if (!sameSecret(token, runners.registry.sessionToken(found.runner, sid)))
    throw new RunnerUnauthorizedError("invalid session token");
  return found;
}

function channelNames(body: Record<string, unknown>): unknown[] {
  const list = body.channels;
  if (!Array.isArray(list) || list.length === 0) throw new BadRequestError("channels is required");
  if (list.length > MAX_SESSION_CHANNELS)
    throw new BadRequestError(`channels cannot contain more than ${MAX_SESSION_CHANNELS} entries`);
  return list;
}

function cleanName(raw: unknown): string {
  const name = (typeof raw === "string" ? raw : "").trim().replaceAll("/", "-");
  if (name === "") throw new BadRequestError("trickle channel name is required");
  if (!CHANNEL_NAME.test(name) || name.length > 64)
    throw new BadRequestError(
      "trickle channel name may only contain alphanumerics, underscores, or hyphens (64 at most)",
    );
  return name;
}

/** Everything under `/runner/`: `{id}/session/{sid}/channels|proxy|stop`. */
export const runnerCallbacks = underRunners(async ({ ctx, runners, rest, parts }, req, res) => {
  const method = req.method ?? "GET";
  if (parts.length !== 4 || parts[1] !== "session")
    throw new NotFoundError(`no route ${method} /runner/${rest}`);
  const route = seg(parts[0]);
  const sid = seg(parts[2]);
  const action = parts[3];
  const { runner, session } = authorized(runners, req, route, sid);
  if (action === "stop" && method === "POST") {
    runners.registry.release(runner, sid);
    noContent(res);
    return;
  }
  if (action === "channels" && method === "POST") {
    const wanted = channelNames(await readJsonBody(ctx, req)).map((c) => {
      const o = (typeof c === "object" && c !== null ? c : {}) as Record<string, unknown>;
      const mime =
        typeof o.mime_type === "string" && o.mime_type.trim() !== ""
          ? o.mime_type.trim()
          : "application/octet-stream";
      return { name: cleanName(o.name), mime };
    });
    const fresh = new Set(wanted.map((w) => w.name).filter((n) => !session.channels.has(n)));
    if (session.channels.size + fresh.size > MAX_SESSION_CHANNELS)
      throw new BadRequestError(`a session holds at most ${MAX_SESSION_CHANNELS} channels`);
    const channels = wanted.map(({ name, mime }) => {
      const known = session.channels.get(name);
      // Idempotent, unless the trickle server's idle sweep removed the channel: then it is made again.
      if (known !== undefined && runners.channels.exists(known.channel_name)) return known;
      const made = runners.channels.create(name, runners.channelName(runner, session, name), mime);
      session.channels.set(name, made);
      return made;
    });
    return sendJson(res, 200, { channels });
  }
  if (action === "channels" && method === "DELETE") {
    const names = channelNames(await readJsonBody(ctx, req)).map(cleanName);
    for (const n of names) if (!session.channels.has(n)) throw new NotFoundError("trickle channel not found");
    for (const n of names) {
      const ch = session.channels.get(n);
      if (ch === undefined) continue;
      runners.channels.remove(ch.channel_name);
      session.channels.delete(n);
    }
    return sendJson(res, 200, { deleted: names });
  }
  if (action === "proxy" && method === "POST") {
    const body = await readJsonBody(ctx, req);
    const given = typeof body.target_url === "string" ? body.target_url.trim() : "";
    const target = given === "" ? runner.advert.runnerUrl : checkProxyTarget(given, runner.advert.runnerUrl);
    if (session.proxies.size >= MAX_SESSION_PROXIES)
      throw new BadRequestError(`a session holds at most ${MAX_SESSION_PROXIES} proxies`);
    const id = runners.registry.addProxy(session, target);
    return sendJson(res, 200, { proxy_id: id, url: runners.template?.url(id) ?? "" });
  }
  throw new NotFoundError(`no route ${method} /runner/${rest}`);
});
