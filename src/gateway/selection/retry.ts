/**
 * What a gateway does after an orchestrator answered a job with an error (go-livepeer
 * server/ai_process.go retry loop, docs/spec/orchestrator-gateway.md#suspension-and-retries). Pure: the caller owns the loop.
 */

/** Attempts per job across orchestrators (`maxTries`). */
export const MAX_TRIES = 20;
/** Attempts on the same orchestrator (`maxSameSessTries`). */
export const MAX_SAME_SESSION_TRIES = 3;

/**
 * - `refresh-and-retry`: ticket params expired; refresh the session and retry the same orchestrator.
 * - `switch`: nonce reuse or no capacity; try another orchestrator, do not suspend.
 * - `suspend`: anything else; suspend the orchestrator and try another.
 */
export type FailureAction = "refresh-and-retry" | "switch" | "suspend";

/**
 * Why an attempt failed, as the retry loop tells failures apart. It is read once, where the failure
 * is known: from our own typed errors by their code, from an orchestrator's answer by the one
 * recognizer of each (src/gateway/orch-http.ts `failureCauseOf`).
 */
export type FailureCause = "ticket-params-expired" | "nonce-reused" | "no-capacity" | "other";

/**
 * What to do after a failure, as go-livepeer decides. `sameSessionTries` is how many attempts this
 * orchestrator already had for the job: once it reaches {@link MAX_SAME_SESSION_TRIES}, expired
 * params switch orchestrator (still no suspension).
 */
export function failureAction(cause: FailureCause, sameSessionTries = 0): FailureAction {
  if (cause === "ticket-params-expired")
    return sameSessionTries < MAX_SAME_SESSION_TRIES ? "refresh-and-retry" : "switch";
  if (cause === "nonce-reused" || cause === "no-capacity") return "switch";
  return "suspend";
}
