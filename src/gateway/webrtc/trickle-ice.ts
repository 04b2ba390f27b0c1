/**
 * Trickle ICE on a WHIP or WHEP session (RFC 9725 §4.3.1, RFC 8840): the client `PATCH`es its
 * session URL (the 201's `Location`) with an `application/trickle-ice-sdpfrag` body holding the
 * candidates it gathered after its offer; they are added to the session's peer connection.
 *
 * Answers: 204 when the candidates were added; 415 `UNSUPPORTED_MEDIA_TYPE` for another content
 * type; 404 `ICE_SESSION_NOT_FOUND` when the session has no peer connection (any more); 412
 * `ICE_ETAG_MISMATCH` when `If-Match` names another entity-tag than the session's (the `ETag` of
 * the 201); 422 `ICE_RESTART_UNSUPPORTED` for an ICE restart (`If-Match: *`, or a fragment with
 * new ICE credentials: this gateway supports trickle only, and the RFC asks for 422 then); 422
 * `BAD_SDPFRAG` for a fragment whose candidates or media sections cannot be used, or that would
 * bring the session over {@link MAX_TRICKLED_CANDIDATES}. A PATCH
 * without `If-Match` is accepted (clients that trickle without reading the ETag still work).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RTCPeerConnection } from "werift";
import { TributaryError } from "../../node/errors.ts";
import { headerValue } from "../orch-http.ts";
import { readBody } from "../read-body.ts";

/** The media type of a trickle ICE PATCH body (RFC 8840). */
export const TRICKLE_ICE_TYPE = "application/trickle-ice-sdpfrag";
/** Largest sdpfrag a PATCH may send. */
export const SDPFRAG_BODY_LIMIT = 16 * 1024;
/**
 * Most candidates one session takes by PATCH: a browser gathers a handful (host, srflx, relay per
 * interface); each added candidate is a pair the gateway sends connectivity checks to.
 */
export const MAX_TRICKLED_CANDIDATES = 32;

/** A session PATCH can reach: its peer connection and entity-tag. */
export interface IceSession {
  pc: RTCPeerConnection;
  /** The session's `ETag` (quoted, as the header carries it). */
  etag: string;
  /** Candidates added by PATCH so far. */
  trickled: number;
}

/** A new session around `pc` with a fresh entity-tag. */
export function iceSession(pc: RTCPeerConnection): IceSession {
  return { pc, etag: `"${randomUUID()}"`, trickled: 0 };
}

/** One media section of a fragment: its `a=mid`, its index among the fragment's `m=` lines, its candidates. */
export interface SdpFragMedia {
  mid: string | undefined;
  index: number;
  candidates: string[];
  end: boolean;
}

/** A parsed `application/trickle-ice-sdpfrag` body. */
export interface SdpFrag {
  ufrag: string | undefined;
  pwd: string | undefined;
  media: SdpFragMedia[];
}

function badFrag(why: string): TributaryError {
  return new TributaryError("BAD_SDPFRAG", `the trickle ICE fragment cannot be used: ${why}`, {
    status: 422,
  });
}

/**
 * Parses an sdpfrag (RFC 8840 §4.4): session-level `a=ice-ufrag` / `a=ice-pwd`, then `m=` sections
 * with `a=mid`, `a=candidate:` and `a=end-of-candidates`. Candidates before any `m=` line belong to
 * the first media section (some clients send the bare lines).
 */
export function parseSdpFrag(text: string): SdpFrag {
  const frag: SdpFrag = { ufrag: undefined, pwd: undefined, media: [] };
  let current: SdpFragMedia | undefined;
  const section = (): SdpFragMedia => {
    if (current === undefined) {
      current = { mid: undefined, index: 0, candidates: [], end: false };
      frag.media.push(current);
    }
    return current;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("m=")) {
      current = { mid: undefined, index: frag.media.length, candidates: [], end: false };
      frag.media.push(current);
    } else if (line.startsWith("a=ice-ufrag:")) frag.ufrag = line.slice("a=ice-ufrag:".length);
    else if (line.startsWith("a=ice-pwd:")) frag.pwd = line.slice("a=ice-pwd:".length);
    else if (line.startsWith("a=mid:")) section().mid = line.slice("a=mid:".length);
    else if (line.startsWith("a=candidate:")) section().candidates.push(line.slice(2));
    else if (line === "a=end-of-candidates") section().end = true;
    else if (!/^[a-z]=/.test(line)) throw badFrag(`"${line.slice(0, 40)}" is not an SDP line`);
  }
  if (frag.media.every((m) => m.candidates.length === 0 && !m.end) && frag.ufrag === undefined)
    throw badFrag("it holds no candidate, end-of-candidates or ICE credentials");
  return frag;
}

/** The `a=ice-ufrag` of an SDP (the first one: the session uses one ICE transport, BUNDLE). */
function ufragOf(sdp: string | undefined): string | undefined {
  return /^a=ice-ufrag:(.+)$/m.exec(sdp ?? "")?.[1]?.trim();
}

/** Adds the fragment's candidates (and end-of-candidates) to `session`'s peer connection. */
export async function applySdpFrag(session: IceSession, frag: SdpFrag): Promise<number> {
  const { pc } = session;
  const remote = pc.remoteDescription?.sdp;
  const ufrag = ufragOf(remote);
  if (frag.ufrag !== undefined && ufrag !== undefined && frag.ufrag !== ufrag)
    throw new TributaryError(
      "ICE_RESTART_UNSUPPORTED",
      "the fragment carries new ICE credentials (an ICE restart), which this gateway does not support: start a new session",
      { status: 422 },
    );
  const mids = [...(remote ?? "").matchAll(/^a=mid:(.+)$/gm)].map((m) => (m[1] as string).trim());
  const count = frag.media.reduce((n, m) => n + m.candidates.length, 0);
  if (session.trickled + count > MAX_TRICKLED_CANDIDATES)
    throw badFrag(`a session takes at most ${MAX_TRICKLED_CANDIDATES} candidates by PATCH`);
  let added = 0;
  for (const m of frag.media) {
    const mid = m.mid ?? mids[0];
    if (mid === undefined || !mids.includes(mid)) throw badFrag(`no media section has mid ${m.mid}`);
    for (const candidate of m.candidates) {
      try {
        await pc.addIceCandidate({ candidate, sdpMid: mid, usernameFragment: frag.ufrag ?? ufrag });
      } catch (err) {
        throw badFrag(`${candidate.slice(0, 80)}: ${(err as Error).message}`);
      }
      added++;
      session.trickled++;
    }
    if (m.end) await pc.addIceCandidate({ candidate: "", sdpMid: mid }).catch(() => {});
  }
  return added;
}

/**
 * Answers a trickle ICE `PATCH` on a session URL (see the module comment); `headers` are added to
 * the 204 (CORS).
 */
export async function patchRoute(
  req: IncomingMessage,
  res: ServerResponse,
  session: IceSession | undefined,
  headers: Record<string, string>,
): Promise<void> {
  if (session === undefined || session.pc.connectionState === "closed") {
    req.resume();
    throw new TributaryError(
      "ICE_SESSION_NOT_FOUND",
      "no WHIP/WHEP session is open at this URL: PATCH the Location the 201 answer gave, while it runs",
      { status: 404 },
    );
  }
  const type = (headerValue(req.headers, "content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== TRICKLE_ICE_TYPE) {
    req.resume();
    throw new TributaryError(
      "UNSUPPORTED_MEDIA_TYPE",
      `send the candidates with Content-Type: ${TRICKLE_ICE_TYPE}`,
      {
        status: 415,
      },
    );
  }
  const ifMatch = headerValue(req.headers, "if-match")?.trim();
  if (ifMatch === "*") {
    req.resume();
    throw new TributaryError(
      "ICE_RESTART_UNSUPPORTED",
      "ICE restarts (If-Match: *) are not supported by this gateway: start a new session",
      { status: 422 },
    );
  }
  if (
    ifMatch !== undefined &&
    !ifMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === session.etag)
  ) {
    req.resume();
    throw new TributaryError(
      "ICE_ETAG_MISMATCH",
      "If-Match does not name this session's ETag: use the ETag of the 201 answer",
      { status: 412 },
    );
  }
  const frag = parseSdpFrag((await readBody(req, SDPFRAG_BODY_LIMIT)).toString("utf8"));
  await applySdpFrag(session, frag);
  res.writeHead(204, { ...headers, etag: session.etag });
  res.end();
}
