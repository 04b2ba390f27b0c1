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
 * Classifies an orchestrator's error text as go-livepeer does (case-insensitive substring match).
 * `sameSessionTries` is how many attempts this orchestrator already had for the job: once it reaches
 * {@link MAX_SAME_SESSION_TRIES}, an expired-params error switches orchestrator (still no suspension).
 */
export function failureAction(errorText: string, sameSessionTries = 0): FailureAction {
  const t = errorText.toLowerCase();
  if (t.includes("ticketparams expired"))
    return sameSessionTries < MAX_SAME_SESSION_TRIES ? "refresh-and-retry" : "switch";
  if (t.includes("invalid ticket sendernonce") || t.includes("insufficient capacity")) return "switch";
  return "suspend";
}
