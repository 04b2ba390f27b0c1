/**
 * `tributary payment decode`: prints a `Livepeer-Payment` header as JSON — sender, expected price,
 * ticket params and, per ticket, its hash, EV, whether the signature is valid and (given the
 * recipientRand) whether it wins.
 */
import { text } from "node:stream/consumers";
import { Command, InvalidArgumentError } from "commander";
import { TributaryError } from "../node/errors.ts";
import {
  checkSig,
  isWinningTicket,
  MAX_WIN_PROB,
  priceRat,
  Rat,
  recipientRandHash,
  ticketEV,
  ticketHash,
  ticketsOfPayment,
} from "../payments/index.ts";
import { decodePaymentHeader } from "../protocol/payment-header.ts";

function parseUint256(value: string): bigint {
  if (!/^(0x[0-9a-fA-F]{1,64}|\d+)$/.test(value)) {
    throw new InvalidArgumentError("expected a decimal or 0x-hex unsigned integer");
  }
  const n = BigInt(value);
  if (n > MAX_WIN_PROB) throw new InvalidArgumentError("does not fit in 256 bits");
  return n;
}

/** Options of {@link describePayment}. */
export interface DescribeOptions {
  /** The orchestrator's recipientRand for these params: adds `wins` per ticket. */
  recipientRand?: bigint;
}

/**
 * Decodes a `Livepeer-Payment` header value into a JSON-ready description (integers as decimal
 * strings). Throws the codec's PaymentHeaderError on malformed input.
 */
export async function describePayment(
  header: string,
  opts: DescribeOptions = {},
): Promise<Record<string, unknown>> {
  const p = decodePaymentHeader(header);
  const price = p.expectedPrice;
  const rat = price ? priceRat(price) : undefined;
  const tp = p.ticketParams;
  const out: Record<string, unknown> = {
    sender: p.sender,
    expectedPrice: price
      ? {
          pricePerUnit: price.pricePerUnit.toString(),
          pixelsPerUnit: price.pixelsPerUnit.toString(),
          weiPerUnit: rat ? rat.toString() : null,
          ...(price.capability ? { capability: price.capability } : {}),
          ...(price.constraint ? { constraint: price.constraint } : {}),
        }
      : null,
  };
  if (!tp) {
    out.ticketParams = null;
    out.tickets = [];
    return out;
  }
  const ev = ticketEV(tp.faceValue, tp.winProb);
  out.ticketParams = {
    recipient: tp.recipient,
    faceValue: tp.faceValue.toString(),
    winProb: tp.winProb.toString(),
    winProbability: Rat.of(tp.winProb, MAX_WIN_PROB).toFixed(12),
    recipientRandHash: tp.recipientRandHash,
    seed: `0x${tp.seed.toString(16)}`,
    expirationBlock: tp.expirationBlock.toString(),
  };
  out.expirationParams = p.expirationParams
    ? {
        creationRound: p.expirationParams.creationRound.toString(),
        creationRoundBlockHash: p.expirationParams.creationRoundBlockHash,
      }
    : null;
  if (opts.recipientRand !== undefined) {
    out.recipientRandMatches =
      recipientRandHash(opts.recipientRand).toLowerCase() === tp.recipientRandHash.toLowerCase();
  }
  const tickets = [];
  for (const t of ticketsOfPayment(p)) {
    const hash = ticketHash(t);
    const sig = await checkSig(t.sender, hash, t.sig);
    tickets.push({
      senderNonce: t.senderNonce,
      hash,
      ev: ev.toString(),
      evWei: ev.toFixed(6),
      sig: t.sig,
      signatureValid: sig.valid,
      ...(sig.valid ? {} : { signatureError: sig.reason }),
      ...(opts.recipientRand !== undefined
        ? { wins: isWinningTicket(t.sig, opts.recipientRand, t.winProb) }
        : {}),
    });
  }
  out.tickets = tickets;
  out.totalEV = ev.mul(BigInt(tickets.length)).toString();
  return out;
}

/** Where the command reads and writes; replaced in tests. */
export interface PaymentCliIO {
  stdin: NodeJS.ReadableStream;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIO: PaymentCliIO = {
  stdin: process.stdin,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Builds the `payment` subcommand. */
export function paymentCommand(io: PaymentCliIO = defaultIO): Command {
  const cmd = new Command("payment").description("Inspect Livepeer probabilistic micropayments");
  cmd
    .command("decode")
    .description(
      "Decode a Livepeer-Payment header (standard base64 of a net.Payment protobuf) and print it as JSON: " +
        "sender, expected price, ticket params and, per ticket, its hash, EV, signature validity and " +
        "(with --recipient-rand) whether it wins.",
    )
    .argument("<header>", 'the header value, or "-" to read it from standard input')
    .option(
      "--recipient-rand <n>",
      "the orchestrator's recipientRand (decimal or 0x-hex) for these ticket params: report wins",
      parseUint256,
    )
    .addHelpText(
      "after",
      `
Output fields:
  sender, expectedPrice      who pays, and the price the ticket params were quoted for
  ticketParams               recipient, faceValue, winProb (and as a probability), seed, expirationBlock
  tickets[]                  senderNonce, hash (keccak256 of the packed ticket), ev (faceValue × winProb / (2^256 − 1),
                             exact), signatureValid (65 bytes, low s, v 27/28, signed by sender), wins
  recipientRandMatches       with --recipient-rand: keccak256(rand) equals recipientRandHash

Examples:
  tributary payment decode "$(cat header.txt)"
  curl -sI … | sed -n 's/^Livepeer-Payment: //p' | tributary payment decode - --recipient-rand 0x1234

Exit status: 0 decoded, 1 not a valid Livepeer-Payment header.`,
    )
    .action(async (header: string, opts: { recipientRand?: bigint }) => {
      const value = header === "-" ? (await text(io.stdin)).trim() : header;
      try {
        const desc = await describePayment(value, { recipientRand: opts.recipientRand });
        io.stdout(`${JSON.stringify(desc, null, 2)}\n`);
      } catch (err) {
        if (!(err instanceof TributaryError)) throw err;
        io.stderr(`error: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
  return cmd;
}
