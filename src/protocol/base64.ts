/**
 * Standard-alphabet, padded base64 as Go's `base64.StdEncoding` reads and writes it: the encoding of
 * the `Livepeer-Payment` and `Livepeer-Segment` header values.
 */

const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encodes bytes as standard padded base64. */
export function encodeStdBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Decodes standard padded base64 strictly (wrong alphabet, missing padding or stray characters give
 * undefined), like Go's `StdEncoding.DecodeString`, which also skips CR and LF.
 */
export function decodeStdBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/[\r\n]/g, "");
  if (!STD_B64.test(clean)) return undefined;
  const buf = Buffer.from(clean, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
