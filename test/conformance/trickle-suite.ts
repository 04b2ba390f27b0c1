/**
 * The trickle conformance suite: every server behaviour of docs/spec/trickle.md (#routes to #keepalives-on-sparse-channels, #behaviours-the-conformance-suite-checks; docs/spec/upstream-quirks.md#trickle),
 * exercised over raw HTTP and through our publisher and subscriber clients, against any target server.
 *
 * `trickleConformance(target)` registers node:test tests. A target starts a server (with optional
 * configuration it may or may not be able to honour) and says how clients must talk to it. Targets run
 * with autocreate ON (the standalone default) unless a case asks otherwise. Cases that need a
 * configuration a target cannot apply are skipped with the reason; nothing else is skipped.
 *
 * Raw requests go through the suite's own thin transport (TrickleHttpClient: node:http, or node:http2
 * for HTTP/2 targets), so the same cases run over HTTP/1.1 and HTTP/2.
 *
 * The cases live by area in `trickle/` (routes, lifecycle, bad input, server options, our clients),
 * each a function of the running suite (`trickle/kit.ts`); this entry starts the target and
 * registers them in that order. A target's declarations are in `trickle/target.ts`.
 */
import { after, before, describe } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { until } from "../until.ts";
import { badInputCases } from "./trickle/bad-input.ts";
import { clientCases } from "./trickle/clients.ts";
import { Raw, SETTLE_MS, type TrickleSuite, WAIT_MS } from "./trickle/kit.ts";
import { lifecycleCases } from "./trickle/lifecycle.ts";
import { routeCases } from "./trickle/routes.ts";
import { serverOptionCases } from "./trickle/server-options.ts";
import type { TrickleTarget, TrickleTargetConfig, TrickleTargetInstance } from "./trickle/target.ts";

export type * from "./trickle/target.ts";

/**
 * Registers the conformance tests for one target. Call at the top level of a test file.
 */
export function trickleConformance(target: TrickleTarget): void {
  describe(`trickle conformance: ${target.name}`, () => {
    let inst: TrickleTargetInstance;
    let raw: Raw;
    const extra: Array<{ inst: TrickleTargetInstance; raw: Raw }> = [];

    before(async () => {
      inst = await target.start({ autocreate: true });
      raw = new Raw(inst);
    });
    after(async () => {
      for (const e of extra) {
        e.raw.close();
        await e.inst.close();
      }
      raw?.close();
      await inst?.close();
    });
    const suite: TrickleSuite = {
      target,
      get inst() {
        return inst;
      },
      get raw() {
        return raw;
      },
      feature: (f) => inst.features?.[f] !== false,
      can: (k) => target.configurable?.[k] === true,
      why: (what) => `${target.name} cannot configure ${what}`,
      async startWith(config: TrickleTargetConfig) {
        const i = await target.start(config);
        const r = new Raw(i);
        extra.push({ inst: i, raw: r });
        return r;
      },
      async started(ch, seq, via = raw) {
        if (!suite.feature("next")) return void (await sleep(SETTLE_MS));
        await until(
          `${ch}/next past ${seq}`,
          async () => {
            const r = await via.req("GET", `${ch}/next`);
            return r.status === 200 && Number(r.text.trim()) > seq;
          },
          WAIT_MS,
        );
      },
    };

    routeCases(suite);
    lifecycleCases(suite);
    badInputCases(suite);
    serverOptionCases(suite);
    clientCases(suite);
  });
}
