/**
 * The Dockerfiles, without a Docker engine: every COPY source exists in the build context and is not
 * dockerignored, and the node image's user, volume, health check and entry point; also the YAML
 * subset compose.yaml is read with (compose-model.ts). compose.test.ts runs compose.yaml itself.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseDockerfile, parseYamlSubset, ROOT, resolveImage } from "./compose-model.ts";

describe("Dockerfiles", () => {
  const dockerfiles = [
    "Dockerfile",
    ...readdirSync(join(ROOT, "examples"))
      .map((d) => `examples/${d}/Dockerfile`)
      .filter((f) => existsSync(join(ROOT, f))),
  ];

  test("every COPY source of every Dockerfile exists in the build context (the repository root)", () => {
    assert.ok(dockerfiles.length >= 3);
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.replace(/^\/|\/$/g, ""));
    for (const f of dockerfiles)
      for (const stage of parseDockerfile(join(ROOT, f)))
        for (const ins of stage.instructions.filter((i) => i.op === "COPY" && !/--from=/.test(i.args))) {
          const sources = ins.args.split(/\s+/).slice(0, -1);
          for (const src of sources) {
            assert.ok(existsSync(join(ROOT, src)), `${f}:${ins.line}: COPY source ${src} does not exist`);
            assert.ok(!ignored.includes(src), `${f}:${ins.line}: COPY source ${src} is in .dockerignore`);
          }
        }
  });

  test("the node image runs tributary as a non-root user with a /data volume and a health check", () => {
    const stages = parseDockerfile(join(ROOT, "Dockerfile"));
    for (const target of [undefined, "node", "devnet"]) {
      const image = resolveImage(stages, target);
      assert.match(stages[0]!.from, /^node:24(-[a-z]+)?-slim$/);
      assert.ok(
        image.user && image.user !== "root" && image.user !== "0",
        `${target}: runs as ${image.user}`,
      );
      assert.deepEqual(image.volumes, ["/data"]);
      assert.equal(image.env.TRIBUTARY_DATA_DIR, "/data");
      assert.ok(image.healthcheck, `${target}: HEALTHCHECK`);
      assert.deepEqual(image.entrypoint, ["node", "/app/bin/tributary.js"]);
    }
    assert.deepEqual(resolveImage(stages).cmd, ["--help"]);
  });

  test("the YAML subset parser reads what compose.yaml uses and refuses the rest", () => {
    assert.deepEqual(
      parseYamlSubset(
        'a: 1 # c\nb:\n  - x\n  - "y # z"\n  - k: v\n    l: [m, "n"]\nc: |\n  one\n  two\nd:\ne: \'q\'\n',
      ),
      { a: "1", b: ["x", "y # z", { k: "v", l: ["m", "n"] }], c: "one\ntwo\n", d: null, e: "q" },
    );
    assert.throws(() => parseYamlSubset("a: &x 1\nb: *x\n"), /unsupported/);
    assert.throws(() => parseYamlSubset("a: 1\na: 2\n"), /duplicate/);
  });
});
