/**
 * Polls `check` every `intervalMs` until it holds; throws `timed out waiting for <what>` after `ms`.
 * `what` may be a function, called only on time-out, to say what state was last seen.
 * The one wait-for-a-condition helper of the cross-component suites.
 */
export async function until(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  intervalMs = 25,
): Promise<void> {
  if (!(await poll(check, ms, intervalMs)))
    throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
}

/**
 * Polls like {@link until} but gives up quietly after `ms`, resolving whether `check` held: for a
 * wait whose outcome the assertions after it judge.
 */
export async function poll(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  intervalMs = 25,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return true;
}
