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
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
