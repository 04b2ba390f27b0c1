import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMultipart } from "./multipart.ts";

const B = "----tributary";
const part = (head: string, content: string) => `--${B}\r\n${head}\r\n\r\n${content}\r\n`;

test("fields and files by name, the first value of each", () => {
  const body = Buffer.from(
    part('Content-Disposition: form-data; name="model_id"', "m") +
      part('Content-Disposition: form-data; name="model_id"', "second") +
      part(
        'Content-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png',
        "PNG",
      ) +
      `--${B}--\r\n`,
  );
  const form = parseMultipart(body, `multipart/form-data; boundary=${B}`);
  assert.deepEqual(form.fields, { model_id: "m" });
  assert.equal(form.files.image?.toString(), "PNG");
  assert.deepEqual(parseMultipart(body, `multipart/form-data; boundary="${B}"`).fields, { model_id: "m" });
});

test("a body without a boundary is a 400", () => {
  assert.throws(
    () => parseMultipart(Buffer.from("x"), "multipart/form-data"),
    (err: Error & { status?: number }) => {
      return err.status === 400 && /boundary/.test(err.message);
    },
  );
});
