/** A cheap check that bytes look like MPEG-TS, used to reject garbage input segments at once. */

/** MPEG-TS packet size and sync byte. */
export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;

/**
 * True when `body` starts with MPEG-TS packets: a sync byte at offset 0 and at each of the next
 * packet boundaries present (up to 4). Segments from the gateway are whole TS files, so they pass;
 * random bytes fail with near certainty.
 */
export function looksLikeMpegTs(body: Uint8Array): boolean {
  if (body.length < TS_PACKET_SIZE) return false;
  for (let i = 0; i < 5; i++) {
    const at = i * TS_PACKET_SIZE;
    if (at >= body.length) break;
    if (body[at] !== TS_SYNC_BYTE) return false;
  }
  return true;
}
