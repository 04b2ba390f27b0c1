/**
 * `multipart/form-data` bodies as the native AI routes send them (image-to-image, upscale,
 * audio-to-text, …): fields and files by name. Pure.
 */
import { BadRequestError } from "../node/errors.ts";

/** Fields and files of a `multipart/form-data` body (first value of each name). */
export interface MultipartForm {
  fields: Record<string, string>;
  files: Record<string, Buffer>;
}

/** Parses a `multipart/form-data` body. Throws 400 on a missing boundary. */
export function parseMultipart(body: Buffer, contentType: string): MultipartForm {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new BadRequestError("multipart body without a boundary");
  const delimiter = Buffer.from(`--${boundary}`);
  const form: MultipartForm = { fields: {}, files: {} };
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd !== -1) {
      const head = part.subarray(0, headerEnd).toString("utf8");
      const content = part.subarray(headerEnd + 4);
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      if (name !== undefined) {
        if (/filename="/i.test(head)) form.files[name] ??= content;
        else form.fields[name] ??= content.toString("utf8");
      }
    }
    pos = next;
  }
  return form;
}
