/**
 * Orchestrator addresses as operators write them (`host:port`, `https://host:port/`) → one normal form
 * (go-livepeer `parseURI`/`-orchAddr`; the Python SDK's `host:port` → `https://host:port`, docs/spec/orchestrator-gateway.md#python-client-discovery).
 */
import { BadRequestError } from "../../node/errors.ts";

/**
 * Normalises an orchestrator address: no scheme → `https://`; only http(s) allowed; path, query and
 * trailing slashes dropped (gRPC and the HTTP routes hang off the origin). Throws a 400
 * `INVALID_ORCHESTRATOR_ADDRESS` with the offending text otherwise.
 */
export function normalizeOrchestratorUrl(text: string): string {
  const t = text.trim();
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(t) ? t : `https://${t}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch (cause) {
    throw new BadRequestError(`orchestrator address ${JSON.stringify(text)} is not host:port or a URL`, {
      code: "INVALID_ORCHESTRATOR_ADDRESS",
      cause,
    });
  }
  if ((u.protocol !== "https:" && u.protocol !== "http:") || u.hostname === "") {
    throw new BadRequestError(
      `orchestrator address ${JSON.stringify(text)} must be host:port or an http(s) URL`,
      { code: "INVALID_ORCHESTRATOR_ADDRESS" },
    );
  }
  return u.origin;
}

/**
 * Parses a `--orch-addr` value: a comma-separated list (entries may also be given as an array);
 * whitespace and empty entries ignored, duplicates dropped, order kept.
 */
export function parseOrchestratorList(value: string | readonly string[]): string[] {
  const parts = (typeof value === "string" ? [value] : value).flatMap((v) => v.split(","));
  const out: string[] = [];
  for (const p of parts) {
    if (p.trim() === "") continue;
    const url = normalizeOrchestratorUrl(p);
    if (!out.includes(url)) out.push(url);
  }
  return out;
}
