import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { bytesToHex, getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_DEV_KEYS } from "../../chain/devnet.ts";
import { checkPayloadSig } from "../../payments/signature.ts";
import { createGrpcOrchestratorClient, OrchestratorRequestError } from "./grpc-client.ts";
import { OFFCHAIN_CREDENTIALS, orchestratorRequest, signRequestCredentials } from "./request.ts";
import { type FakeOrchestrator, startFakeOrchestrator, testCertificate } from "./testing.ts";

describe("gRPC GetOrchestrator client", () => {
  let orch: FakeOrchestrator;
  const client = createGrpcOrchestratorClient();

  before(async () => {
    orch = await startFakeOrchestrator((req, { url }) => {
      if (req.ignoreCapacityCheck) throw new ConnectError("Invalid orchestrator request", Code.Unknown);
      return { transcoder: url, address: new Uint8Array(20).fill(7), nodes: ["https://extra:1"] };
    });
  });
  after(async () => {
    client.close();
    await orch.close();
  });

  test("fetches OrchestratorInfo over TLS with a self-signed certificate", async () => {
    const info = await client.getOrchestrator(
      orch.url,
      orchestratorRequest({ credentials: OFFCHAIN_CREDENTIALS }),
    );
    assert.equal(info.transcoder, orch.url);
    assert.deepEqual(info.nodes, ["https://extra:1"]);
  });

  test("offchain requests carry the zero address and no signature", async () => {
    await client.getOrchestrator(orch.url, orchestratorRequest({ credentials: OFFCHAIN_CREDENTIALS }));
    const req = orch.requests.at(-1)!;
    assert.deepEqual(req.address, new Uint8Array(20));
    assert.equal(req.sig.length, 0);
  });

  test("signed requests carry the address and personal_sign(keccak(EIP-55 address))", async () => {
    const account = privateKeyToAccount(ANVIL_DEV_KEYS[1]);
    const credentials = await signRequestCredentials(account);
    await client.getOrchestrator(orch.url, orchestratorRequest({ credentials }));
    const req = orch.requests.at(-1)!;
    assert.equal(getAddress(bytesToHex(req.address)), account.address);
    const check = await checkPayloadSig(account.address, account.address, bytesToHex(req.sig));
    assert.ok(check.valid);
  });

  test("an orchestrator's refusal is a typed error with the gRPC code", async () => {
    const err = await client
      .getOrchestrator(
        orch.url,
        orchestratorRequest({ credentials: OFFCHAIN_CREDENTIALS, ignoreCapacityCheck: true }),
      )
      .catch((e: unknown) => e);
    assert.ok(err instanceof OrchestratorRequestError);
    assert.equal(err.grpcCode, "unknown");
    assert.match(err.message, /Invalid orchestrator request/);
  });

  test("an unreachable orchestrator fails as unavailable", async () => {
    const err = await client
      .getOrchestrator("https://127.0.0.1:1", orchestratorRequest({ credentials: OFFCHAIN_CREDENTIALS }))
      .catch((e: unknown) => e);
    assert.ok(err instanceof OrchestratorRequestError);
    assert.equal(err.grpcCode, "unavailable");
  });

  test("a verifying client rejects the self-signed certificate unless it is trusted", async () => {
    await using strict = createGrpcOrchestratorClient({ rejectUnauthorized: true });
    const err = await strict
      .getOrchestrator(orch.url, orchestratorRequest({ credentials: OFFCHAIN_CREDENTIALS }))
      .catch((e: unknown) => e);
    assert.ok(err instanceof OrchestratorRequestError);
    await using pinned = createGrpcOrchestratorClient({
      rejectUnauthorized: true,
      ca: testCertificate().cert,
    });
    const info = await pinned.getOrchestrator(
      orch.url,
      orchestratorRequest({ credentials: OFFCHAIN_CREDENTIALS }),
    );
    assert.equal(info.transcoder, orch.url);
  });
});
