/**
 * The dynamic runner protocol (go-livepeer `Heartbeat` / `Unregister`):
 *
 * - `POST /runners/heartbeat`, `Authorization: <orchestrator secret>` for an unknown runner id (its
 *   own `runner_id` or a generated one): 404 when dynamic registration is off (no secret), 401 for a
 *   wrong secret. The first answer carries `heartbeat_secret` and the `o2r` channel; later beats must
 *   carry that secret (401 otherwise) and may change everything the runner advertises. A runner past
 *   its TTL is removed on its next beat and treated as new, so its heartbeat secret gets 401 and the
 *   SDK re-bootstraps with the orchestrator secret (livepeer-gateway re-registers on 401).
 *   Every answer lists the orchestrator's sessions of the runner, oldest first (`session_ids`).
 * - `POST /runners/{id}/unregister` with the heartbeat secret: 204; 404 unknown or withdrawn; 400 a
 *   static runner; 401 a wrong secret.
 */
import { BadRequestError } from "../../node/errors.ts";
import type { SessionChannel } from "./channels.ts";
import { parseAdvert, type RunnerPricing } from "./config.ts";
import {
  type Runner,
  RunnerNotFoundError,
  type RunnerRegistry,
  RunnerUnauthorizedError,
} from "./registry.ts";
import { deriveSecret, goDuration, newRunnerId, sameSecret } from "./secrets.ts";

/** A heartbeat answer (go-livepeer `LiveRunnerHeartbeatResponse`). */
export interface HeartbeatAnswer {
  runner_id: string;
  orchestrator: string;
  heartbeat_interval: string;
  heartbeat_ttl: string;
  heartbeat_secret?: string;
  o2r?: SessionChannel;
  session_ids: string[];
}

/** What a heartbeat needs besides the registry. */
export interface HeartbeatDeps {
  registry: RunnerRegistry;
  /** The bootstrap secret; undefined: dynamic registration is off (404). */
  secret: string | undefined;
  /** True on a paid node (prices are then required). */
  paid: RunnerPricing;
  /** The runner-facing orchestrator URL (`--live-runner-addr`, else the service URI). */
  runnerFacingUrl: () => string;
  /** Opens the o2r channel of a new runner and describes it. */
  openO2r: (runner: Runner) => SessionChannel;
}

const heartbeatSecret = (r: Runner): string => deriveSecret(r.seed, "heartbeat");

/** Handles one heartbeat; throws 400/401/404 as above. */
export function heartbeat(deps: HeartbeatDeps, body: Record<string, unknown>, auth: string): HeartbeatAnswer {
  const { registry } = deps;
  const given = typeof body.runner_id === "string" ? body.runner_id.trim() : "";
  if (given.includes("/")) throw new BadRequestError("runner_id cannot contain /");
  const id = given || newRunnerId();
  const advert = parseAdvert(body, deps.paid);
  let runner = registry.get(id);
  if (runner?.isStatic) throw new BadRequestError("static runner cannot heartbeat");
  if (runner !== undefined && registry.expired(runner)) {
    registry.remove(runner, "heartbeat timeout");
    runner = undefined;
  }
  const base = {
    orchestrator: deps.runnerFacingUrl(),
    heartbeat_interval: goDuration(registry.heartbeatIntervalMs),
    heartbeat_ttl: goDuration(registry.heartbeatTtlMs),
  };
  if (runner === undefined) {
    if (deps.secret === undefined)
      throw new RunnerNotFoundError("dynamic live runner registration is disabled");
    if (!sameSecret(auth, deps.secret))
      throw new RunnerUnauthorizedError("invalid registration authorization");
    const created = registry.addDynamic(id, advert);
    const o2r = deps.openO2r(created);
    return {
      runner_id: id,
      ...base,
      heartbeat_secret: heartbeatSecret(created),
      o2r,
      session_ids: [...created.sessions.keys()],
    };
  }
  if (!sameSecret(auth, heartbeatSecret(runner)))
    throw new RunnerUnauthorizedError("invalid heartbeat authorization");
  runner.advert = advert;
  // A capacity below the sessions held keeps them; new reservations wait (go-livepeer too).
  runner.lastBeat = registry.now();
  return { runner_id: id, ...base, session_ids: [...runner.sessions.keys()] };
}

/** Unregisters a dynamic runner; throws 400/401/404 as above. */
export function unregister(registry: RunnerRegistry, id: string, auth: string): void {
  const runner = registry.get(id);
  if (runner === undefined || runner.removed || registry.expired(runner)) throw new RunnerNotFoundError();
  if (runner.isStatic)
    throw new BadRequestError("static runner cannot unregister with heartbeat credentials");
  if (!sameSecret(auth, heartbeatSecret(runner))) throw new RunnerUnauthorizedError();
  registry.remove(runner, "unregister");
}
