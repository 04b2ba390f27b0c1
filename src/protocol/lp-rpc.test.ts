import assert from "node:assert/strict";
import { test } from "node:test";
import type { DescMessage } from "@bufbuild/protobuf";
import {
  AuthTokenSchema,
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
  GPUComputeInfoSchema,
  HardwareInformationSchema,
  OrchestratorInfoSchema,
  OrchestratorRequestSchema,
  Orchestrator as OrchestratorService,
  PaymentResultSchema,
  PaymentSchema,
  PriceInfoSchema,
  SegDataSchema,
  TicketExpirationParamsSchema,
  TicketParamsSchema,
  TicketSenderParamsSchema,
} from "./gen/lp_rpc_pb.ts";

// Field names and numbers as docs/spec/payments.md#protobuf-messages and docs/spec/orchestrator-gateway.md#orchestratorinfo list them
// (go-livepeer net/lp_rpc.proto).
const expected: Array<[DescMessage, string, Record<string, number>]> = [
  [
    TicketParamsSchema,
    "net.TicketParams",
    {
      recipient: 1,
      face_value: 2,
      win_prob: 3,
      recipient_rand_hash: 4,
      seed: 5,
      expiration_block: 6,
      expiration_params: 7,
    },
  ],
  [TicketSenderParamsSchema, "net.TicketSenderParams", { sender_nonce: 1, sig: 2 }],
  [
    TicketExpirationParamsSchema,
    "net.TicketExpirationParams",
    { creation_round: 1, creation_round_block_hash: 2 },
  ],
  [
    PaymentSchema,
    "net.Payment",
    { ticket_params: 1, sender: 2, expiration_params: 3, ticket_sender_params: 4, expected_price: 5 },
  ],
  [PriceInfoSchema, "net.PriceInfo", { pricePerUnit: 1, pixelsPerUnit: 2, capability: 3, constraint: 4 }],
  [PaymentResultSchema, "net.PaymentResult", { info: 16 }],
  [AuthTokenSchema, "net.AuthToken", { token: 1, session_id: 2, expiration: 3 }],
  [
    OrchestratorRequestSchema,
    "net.OrchestratorRequest",
    { address: 1, sig: 2, capabilities: 3, ignoreCapacityCheck: 4 },
  ],
  [
    OrchestratorInfoSchema,
    "net.OrchestratorInfo",
    {
      transcoder: 1,
      ticket_params: 2,
      price_info: 3,
      address: 4,
      capabilities: 5,
      auth_token: 6,
      hardware: 7,
      storage: 32,
      capabilities_prices: 33,
      nodes: 34,
    },
  ],
  [
    CapabilitiesSchema,
    "net.Capabilities",
    { bitstring: 1, mandatories: 2, capacities: 3, version: 4, constraints: 5 },
  ],
  [Capabilities_ConstraintsSchema, "net.Capabilities.Constraints", { minVersion: 1, PerCapability: 2 }],
  [
    Capabilities_CapabilityConstraints_ModelConstraintSchema,
    "net.Capabilities.CapabilityConstraints.ModelConstraint",
    { warm: 1, capacity: 2, runnerVersion: 3, capacityInUse: 4 },
  ],
  [HardwareInformationSchema, "net.HardwareInformation", { pipeline: 1, model_id: 2, gpu_info: 3 }],
  [
    GPUComputeInfoSchema,
    "net.GPUComputeInfo",
    { id: 1, name: 2, major: 4, minor: 5, memory_free: 6, memory_total: 7 },
  ],
  [
    SegDataSchema,
    "net.SegData",
    {
      manifestId: 1,
      seq: 2,
      hash: 3,
      profiles: 4,
      sig: 5,
      duration: 6,
      capabilities: 7,
      auth_token: 8,
      calc_perceptual_hash: 10,
      storage: 32,
      fullProfiles: 33,
      fullProfiles2: 34,
      fullProfiles3: 35,
      segment_parameters: 37,
      ForceSessionReinit: 38,
    },
  ],
];

for (const [schema, typeName, fields] of expected) {
  test(`${typeName} has go-livepeer's field names and numbers`, () => {
    assert.equal(schema.typeName, typeName);
    const got = Object.fromEntries(schema.fields.map((f) => [f.name, f.number]));
    assert.deepEqual(got, fields);
  });
}

test("the Orchestrator service has go-livepeer's gRPC paths", () => {
  assert.equal(OrchestratorService.typeName, "net.Orchestrator");
  const paths = OrchestratorService.methods.map((m) => `/${OrchestratorService.typeName}/${m.name}`);
  assert.deepEqual(paths, [
    "/net.Orchestrator/GetOrchestrator",
    "/net.Orchestrator/EndTranscodingSession",
    "/net.Orchestrator/Ping",
  ]);
  assert.equal(OrchestratorService.method.getOrchestrator.input.typeName, "net.OrchestratorRequest");
  assert.equal(OrchestratorService.method.getOrchestrator.output.typeName, "net.OrchestratorInfo");
});
