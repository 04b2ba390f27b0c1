/**
 * BYOC registration and tokens (docs/spec/orchestrator-gateway.md#orchestrator-byoc-routes):
 * `POST /capability/register` and `/capability/unregister` (by the operator: the group's auth hook,
 * {@link requireOperator}), and `GET /process/token`. Errors are go-livepeer's plain text.
 */
import type { Address } from "viem";
import { z } from "zod";
import { BadRequestError } from "../../node/errors.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { Rat } from "../../payments/rational.ts";
import { usualPaymentUnits } from "../../payments/usual-payment.ts";
import { CAPABILITY } from "../../protocol/capabilities.ts";
import { JOB_CAPABILITY_HEADER, JOB_ETH_ADDRESS_HEADER } from "../../protocol/job-header.ts";
import {
  priceInfoToGoJson,
  stringifyJsonBig,
  ticketParamsToGoJson,
} from "../../protocol/ticket-params-json.ts";
import { isOperator, type OrchestratorContext, requestLog } from "../context.ts";
import { header, readBody, sendJson, sendText } from "../http.ts";
import { priceInfoOf } from "../info.ts";
import { parseJobSender } from "../job-header.ts";
import { BYOC_PIPELINE, type Capability } from "../registry.ts";

const registrationSchema = z.object({
  name: z
    .string()
    .min(1, "must not be empty")
    .max(128)
    .regex(/^[^/\s]+$/, "must not contain '/' or spaces"),
  description: z.string().optional(),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  capacity: z.number().int().min(1, "zero capacity").max(1_000_000),
  price_per_unit: z.number().int().min(0).optional(),
  price_scaling: z.number().int().min(0).optional(),
  currency: z.string().optional(),
  token: z.string().optional(),
});

/**
 * The registration routes' auth hook: the orchestrator secret as `Authorization`, else 400
 * `invalid authorization` (go-livepeer's status, which pytrickle's helper treats as final; a 401 it
 * would retry).
 */
export function requireOperator(ctx: OrchestratorContext, req: NodeRequest): void {
  if (!isOperator(ctx, req)) throw new BadRequestError("invalid authorization");
}

/** `POST /capability/register`: a container offers a capability (JSON body); 200 `ok`. */
export async function register(ctx: OrchestratorContext, req: NodeRequest, res: NodeResponse): Promise<void> {
  const body = await readBody(req, ctx.settings.maxBodyBytes);
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString("utf8"));
  } catch {
    return sendText(res, 400, "Error registering capability: body is not JSON");
  }
  const r = registrationSchema.safeParse(raw);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
    return sendText(res, 400, `Error registering capability: ${why}`);
  }
  const e = r.data;
  const currency = (e.currency ?? "").toLowerCase();
  if (currency !== "" && currency !== "wei" && currency !== "eth")
    return sendText(
      res,
      400,
      `Error registering capability: currency ${e.currency} needs a price feed (not supported); use wei or eth`,
    );
  const scaling = BigInt(e.price_scaling || 1);
  const perUnit = BigInt(e.price_per_unit ?? 0);
  const price = Rat.of(perUnit * (currency === "eth" ? 10n ** 18n : 1n), scaling);
  ctx.registry.registerByoc({
    name: e.name,
    description: e.description ?? "",
    url: e.url.replace(/\/+$/, ""),
    capacity: e.capacity,
    price,
    pricePerUnit: perUnit,
    priceScaling: scaling,
    currency: currency || "wei",
    token: e.token || undefined,
  });
  requestLog(ctx).info(
    { capability: `${BYOC_PIPELINE}/${e.name}`, capacity: e.capacity },
    "BYOC capability registered",
  );
  sendText(res, 200, "ok", { "Content-Type": "application/json" });
}

/** `POST /capability/unregister`: body = the capability name as text; 200 `ok` (also for unknown names). */
export async function unregister(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const name = (await readBody(req, 4096)).toString("utf8").trim();
  if (ctx.registry.unregisterByoc(name))
    requestLog(ctx).info({ capability: `${BYOC_PIPELINE}/${name}` }, "BYOC capability unregistered");
  sendText(res, 200, "ok", { "Content-Type": "application/json" });
}

/** Free slots of a capability on its ready containers. */
function freeSlots(ctx: OrchestratorContext, cap: Capability | undefined): number {
  if (cap === undefined) return 0;
  let n = 0;
  for (const url of cap.urls) {
    const c = ctx.registry.container(url);
    if (c?.health === "ready") n += Math.max(0, c.capacity - c.inUse);
  }
  return n;
}

/**
 * `GET /process/token`: the JobToken of a sender (`Livepeer-Eth-Address`, signature checked on chain)
 * for a capability (`Livepeer-Capability`): price, ticket params and balance on chain, free slots.
 */
export async function processToken(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const gate = ctx.gate;
  const sender = await parseJobSender(
    header(req.headers, JOB_ETH_ADDRESS_HEADER) || undefined,
    gate !== undefined,
  );
  const capName = header(req.headers, JOB_CAPABILITY_HEADER);
  if (capName === "") throw new BadRequestError("missing Livepeer-Capability header");
  const cap = ctx.registry.get(BYOC_PIPELINE, capName);
  const available = freeSlots(ctx, cap);
  const token: Record<string, unknown> = { sender_address: sender };
  if (gate === undefined) {
    token.price = priceInfoToGoJson({ pricePerUnit: 0n, pixelsPerUnit: 1n, capability: 0, constraint: "" });
  } else {
    const addr = sender.addr as Address;
    const price = cap === undefined ? Rat.ZERO : ctx.registry.priceFor(cap, addr);
    const wire = priceInfoOf(price);
    token.ticket_params = ticketParamsToGoJson(
      await gate.ticketParams(addr, price, usualPaymentUnits(CAPABILITY.BYOC)),
    );
    const balance = gate.balances.balance(addr, capName);
    if (balance !== undefined) token.balance = balance.floor();
    token.price = priceInfoToGoJson({
      pricePerUnit: wire.pricePerUnit,
      pixelsPerUnit: wire.pixelsPerUnit,
      capability: 0,
      constraint: "",
    });
  }
  token.service_addr = ctx.info.serviceUri;
  if (available > 0) token.available_capacity = available;
  token.LastNonce = 0;
  sendJson(res, 200, stringifyJsonBig(token));
}
