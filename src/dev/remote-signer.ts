/** The dev network's remote signer: it holds the gateway account, and the gateway pays through it. */
import { join } from "node:path";
import type { Devnet } from "../chain/devnet.ts";
import type { RemoteSignerClient } from "../gateway/remote-signer.ts";
import type { Logger } from "../node/logger.ts";
import type { RunningSigner } from "../signer/index.ts";
import type { Started } from "./supervisor.ts";

/** A started remote signer, the client the gateway uses, and the bearer token it authenticates with. */
export interface DevRemoteSigner {
  signer: RunningSigner;
  client: RemoteSignerClient;
  token: string;
}

/** Starts a remote signer over the devnet gateway account, under `dataDir/signer`, and connects to it. */
export async function startDevRemoteSigner(
  chain: Devnet,
  opts: { host: string; dataDir: string; log: Logger },
): Promise<Started<DevRemoteSigner>> {
  const { host, dataDir, log } = opts;
  const { startSigner } = await import("../signer/index.ts");
  const { connectRemoteSigner } = await import("../gateway/remote-signer.ts");
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("hex");
  const signer = await startSigner({
    host,
    port: 0,
    dataDir: join(dataDir, "signer"),
    network: "devnet",
    ethUrl: chain.rpcUrl,
    contracts: chain.contracts,
    privateKey: chain.accounts.gateway.privateKey,
    tokens: new Map([[token, "dev-gateway"]]),
    logger: log,
  });
  let client: RemoteSignerClient;
  try {
    client = await connectRemoteSigner({
      url: signer.url,
      headers: { Authorization: `Bearer ${token}` },
    });
  } catch (err) {
    await signer.close();
    throw err;
  }
  return {
    value: { signer, client, token },
    detail: `${signer.url}, signing as ${signer.address}`,
    stop: () => signer.close(),
  };
}
