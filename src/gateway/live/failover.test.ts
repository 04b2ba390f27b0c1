// Failover decisions come from typed errors, made once where the orchestrator's answer is read.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TributaryError } from "../../node/errors.ts";
import { isClientFailure, isTicketParamsExpired } from "./failover.ts";
import { checkStartAnswer, LiveStartRejectedError, TicketParamsExpiredError } from "./orchestrator-api.ts";

const thrown = (status: number, text: string): unknown => {
  try {
    checkStartAnswer(status, text);
  } catch (err) {
    return err;
  }
  return undefined;
};

test("a start answer refusing expired ticket params becomes a TicketParamsExpiredError", () => {
  for (const text of [
    "ticket params expired at L1 block 55 (now 58); fetch fresh ticket params", // ours, as text
    '{"error":{"code":"TICKET_EXPIRED","message":"ticket params expired at L1 block 55 (now 58)"}}', // ours, JSON
    "TicketParams expired", // go-livepeer's
  ]) {
    const err = thrown(400, text);
    assert.ok(err instanceof TicketParamsExpiredError, text);
    // What a client sees when the retries run out: the refusal as before.
    assert.ok(err instanceof LiveStartRejectedError);
    assert.equal(err.code, "LIVE_START_REJECTED");
    assert.equal(err.status, 400);
    assert.equal(err.message, `orchestrator refused the stream: ${text}`);
    assert.ok(isTicketParamsExpired(err) && isClientFailure(err));
  }
});

test("other answers: a refusal is the client's, a 5xx or 429 the orchestrator's", () => {
  const refused = thrown(403, "not allowed");
  assert.ok(refused instanceof LiveStartRejectedError && !(refused instanceof TicketParamsExpiredError));
  assert.ok(!isTicketParamsExpired(refused) && isClientFailure(refused));
  for (const status of [500, 503, 429, 408]) {
    const err = thrown(status, "busy");
    assert.ok(err instanceof Error && !(err instanceof TributaryError), String(status));
    assert.equal(err.message, `HTTP ${status}: busy`);
    assert.ok(!isTicketParamsExpired(err) && !isClientFailure(err));
  }
  assert.equal(thrown(200, "{}"), undefined);
});

test("the gateway's own expired params (Sender, 402) retry; its other payment problems go to the client", () => {
  const expired = new TributaryError("TICKET_EXPIRED", "cannot pay o: ticket params expire", { status: 402 });
  assert.ok(isTicketParamsExpired(expired));
  const deposit = new TributaryError("NO_SENDER_DEPOSIT", "cannot pay o: no deposit", { status: 402 });
  assert.ok(!isTicketParamsExpired(deposit) && isClientFailure(deposit));
  // The failover reads no message text: a plain error saying "ticket params expired" is a failure of
  // the orchestrator like any other.
  assert.ok(!isTicketParamsExpired(new Error("ticket params expired")));
});
