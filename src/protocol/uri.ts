/**
 * Percent-decoding of one URL path segment without exceptions: a request path is user input, and
 * `decodeURIComponent` throws a `URIError` on a malformed escape (`%zz`, a truncated `%4`, bytes that
 * are not UTF-8). Callers decide what a malformed segment means (400, or the segment as written).
 */

/** `s` percent-decoded, or undefined when it holds a malformed escape. */
export function decodePathSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
