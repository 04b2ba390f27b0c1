import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { request } from "../trickle/test-util.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

test("tributary trickle serves on --port 0, round-trips a segment and stops cleanly on SIGTERM", async () => {
  const child = spawn(process.execPath, [MAIN, "trickle", "--port", "0", "--log-level", "silent"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const posted = await request(`${url}cli-chan/0`, { method: "POST", body: "from the cli test" });
    assert.equal(posted.status, 200, "channels are auto-created by default");
    const got = await request(`${url}cli-chan/0`);
    assert.equal(got.body, "from the cli test");
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("tributary trickle --no-autocreate refuses unknown channels; bad flags are rejected", async () => {
  const child = spawn(
    process.execPath,
    [MAIN, "trickle", "--port", "0", "--no-autocreate", "--log-level", "silent"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  try {
    const url = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    assert.equal((await request(`${url}nope/0`, { method: "POST", body: "x" })).status, 404);
    const exited = once(child, "exit");
    child.kill("SIGINT");
    assert.equal((await exited)[0], 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  const bad = spawn(process.execPath, [MAIN, "trickle", "--port", "http"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  bad.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const [code] = await once(bad, "exit");
  assert.notEqual(code, 0);
  assert.match(err, /port/);
});

test("tributary trickle --stall-timeout drops a publisher that goes silent mid-segment", async () => {
  const child = spawn(
    process.execPath,
    [MAIN, "trickle", "--port", "0", "--stall-timeout", "500ms", "--log-level", "silent"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    const url = new URL(
      await new Promise<string>((resolve) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
      }),
    );
    // A chunked upload that sends one chunk and then nothing: the server closes the connection.
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, "connect");
    socket.write(
      `POST /stalled/0 HTTP/1.1\r\nHost: ${url.host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
    );
    socket.resume();
    const closed = once(socket, "close");
    const tooLong = setTimeout(() => socket.destroy(new Error("still open after 20 s")), 20_000);
    const [hadError] = (await closed) as [boolean];
    clearTimeout(tooLong);
    assert.equal(hadError, false, "closed by the server, not by the 20 s guard");
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    assert.equal((await exited)[0], 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
