/**
 * `tributary explorer` against a devnet (anvil + our contracts): three orchestrators in the
 * BondingManager pool with different stakes and cuts, two running fake gRPC orchestrators (one warm,
 * one cold, different prices), one with no service URI. The explorer reads the whole pool, probes
 * with a signed request from a throwaway key (it pays nobody), and its JSON views show stake, cuts,
 * warm/cold counts and the price range; an orchestrator stopped mid-test turns unreachable on the
 * next round.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { type Address, bytesToHex, getAddress, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ANVIL_DEV_KEYS,
  bondingManagerAbi,
  createChainClients,
  serviceRegistryAbi,
} from "../../src/chain/index.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../../src/gateway/capabilities.ts";
import { startFakeOrchestrator } from "../../src/gateway/discovery/testing.ts";
import type { ExplorerView } from "../../src/gateway/explorer/index.ts";
import { startExplorer } from "../../src/gateway/explorer/index.ts";
import { checkPayloadSig } from "../../src/payments/signature.ts";
import { devnetFixture } from "../devnet.ts";

const MODEL = "ByteDance/SDXL-Lightning";

function fakeInfo(url: string, address: Address, warm: boolean, price: bigint) {
  return {
    transcoder: url,
    address: Buffer.from(address.slice(2), "hex"),
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      version: "0.8.0",
      constraints: {
        PerCapability: { [CAPABILITY.TextToImage]: { models: { [MODEL]: { warm, capacity: 2 } } } },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: MODEL, pricePerUnit: price, pixelsPerUnit: 1n },
    ],
  };
}

test("tributary explorer on the devnet", async () => {
  const keys = {
    warm: ANVIL_DEV_KEYS[2] as Hex,
    cold: ANVIL_DEV_KEYS[3] as Hex,
    nouri: generatePrivateKey(),
  };
  const addr = (k: Hex) => privateKeyToAccount(k).address;

  await using net = await devnetFixture();
  const { devnet } = net;
  const warmOrch = net.use(
    await startFakeOrchestrator((_r, { url }) => fakeInfo(url, addr(keys.warm), true, 5n)),
  );
  const coldOrch = await startFakeOrchestrator((_r, { url }) => fakeInfo(url, addr(keys.cold), false, 2n));
  net.use(coldOrch);

  const { rpcUrl, chainId, contracts } = devnet;
  const deployer = createChainClients({ rpcUrl, chainId, privateKey: devnet.accounts.deployer.privateKey });
  await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "anvil_setBalance",
      params: [addr(keys.nouri), `0x${parseEther("10").toString(16)}`],
    }),
  });
  const send = async (
    key: Hex,
    address: Address,
    abi: readonly unknown[],
    functionName: string,
    args: unknown[],
  ) => {
    const c =
      key === devnet.accounts.deployer.privateKey
        ? deployer
        : createChainClients({ rpcUrl, chainId, privateKey: key });
    const hash = await c.walletClient.writeContract({ address, abi, functionName, args } as never);
    assert.equal((await c.publicClient.waitForTransactionReceipt({ hash })).status, "success", functionName);
  };
  // The cold one keeps 10% of rewards and shares 50% of fees; the one without URI 0% / 100%.
  for (const [key, stake, cuts] of [
    [keys.cold, 5n * 10n ** 20n, [100_000n, 500_000n]],
    [keys.nouri, 10n ** 20n, [0n, 1_000_000n]],
  ] as const) {
    await send(key, contracts.bondingManager, bondingManagerAbi, "transcoder", [...cuts]);
    await send(
      devnet.accounts.deployer.privateKey,
      contracts.bondingManager,
      bondingManagerAbi,
      "setTranscoderStake",
      [addr(key), stake],
    );
  }
  await send(keys.warm, contracts.aiServiceRegistry, serviceRegistryAbi, "setServiceURI", [
    warmOrch.url.replace("https://", ""),
  ]);
  await send(keys.cold, contracts.serviceRegistry, serviceRegistryAbi, "setServiceURI", [coldOrch.url]);

  await using explorer = await startExplorer({
    port: 0,
    chain: { publicClient: createChainClients({ rpcUrl, chainId }).publicClient, contracts },
    intervalMs: 60_000,
    probeTimeoutMs: 3_000,
  });
  await explorer.source.refresh();
  const get = async () =>
    (await (await fetch(`${explorer.url}/dashboard/api/explorer`)).json()) as ExplorerView;

  let view = await get();
  assert.ok(view.round !== undefined, "the current round is read");
  assert.deepEqual(
    view.orchestrators.map((o) => [o.address, o.stake, o.state]),
    [
      [getAddress(addr(keys.warm)), String(10n ** 21n), "ok"],
      [getAddress(addr(keys.cold)), String(5n * 10n ** 20n), "ok"],
      [getAddress(addr(keys.nouri)), String(10n ** 20n), "unknown"],
    ],
  );
  assert.deepEqual(
    view.orchestrators.slice(1).map((o) => [o.rewardCutPercent, o.feeSharePercent, o.active]),
    [
      [10, 50, true],
      [0, 100, true],
    ],
  );
  assert.equal(view.orchestrators[2]?.reason, "no service URI registered");
  assert.equal(view.orchestrators[1]?.serviceUri, coldOrch.url, "ServiceRegistry fallback");
  assert.equal(view.totals.stake, String(16n * 10n ** 20n));
  const cap = () => view.capabilities.find((c) => c.key === `text-to-image/${MODEL}`);
  assert.deepEqual([cap()?.warm, cap()?.cold, cap()?.capacity, cap()?.free], [1, 1, 4, 4]);
  assert.equal(cap()?.priceMin?.wei, "2000000");
  assert.equal(cap()?.priceMax?.wei, "5000000");

  // Probes are signed by a key that is not any node's: the signature verifies, nobody pays.
  const req = warmOrch.requests.at(-1);
  assert.ok(req);
  const prober = getAddress(bytesToHex(req.address));
  assert.ok(![devnet.accounts.gateway.address, devnet.accounts.deployer.address].includes(prober));
  assert.ok((await checkPayloadSig(prober, prober, bytesToHex(req.sig))).valid);

  // The page in a real browser (Debian chromium), when installed.
  const browser = existsSync(CHROMIUM) ? await openPage(`${explorer.url}/dashboard`) : undefined;
  if (browser === undefined)
    assert.ok(!process.env.CI, `${CHROMIUM} is missing (apt-get install -y chromium)`);
  // Closed even when an assertion fails (an open browser would keep the test process alive).
  await using _closeBrowser = { [Symbol.asyncDispose]: async () => browser?.close() };
  const page = browser?.page;
  const setRow = (address: string, state: string) => `#xset tr[data-state="${state}"]:has-text("${address}")`;
  if (page) {
    await page.waitForSelector(
      `#xcaps tr[data-key="text-to-image/${MODEL}"][data-warm-count="1"][data-cold-count="1"]`,
    );
    for (const k of [keys.warm, keys.cold]) await page.waitForSelector(setRow(getAddress(addr(k)), "ok"));
    await page.waitForSelector(setRow(getAddress(addr(keys.nouri)), "unknown"));
    const set = (await page.locator("#xset tbody").textContent()) ?? "";
    assert.match(set, /1,000 LPT \(62\.5%\)/);
    assert.match(set, /500 LPT \(31\.3%\)/);
    assert.match(set, /10% \/ 50%/);
    assert.match(set, /no service URI registered/);
    const row = (await page.locator(`#xcaps tr[data-key="text-to-image/${MODEL}"]`).textContent()) ?? "";
    assert.match(row, /4 \/ 4/);
    assert.match(row, /2,000,000 wei per megapixel – 5,000,000 wei per megapixel/);

    // Sorting: the active set comes largest stake first; a click on Stake sorts it ascending, another descending.
    const order = () =>
      page
        .locator("#xset tbody tr")
        .evaluateAll((trs) => trs.map((tr) => tr.querySelector("th .url")?.textContent));
    const byStake = [keys.warm, keys.cold, keys.nouri].map((k) => getAddress(addr(k)));
    assert.deepEqual(await order(), byStake);
    await page.locator("#xset thead button.sort", { hasText: "Stake" }).click();
    assert.deepEqual(await order(), [...byStake].reverse());
    await page.locator("#xset thead button.sort", { hasText: "Stake" }).click();
    assert.deepEqual(await order(), byStake);

    // Filters: the state filter keeps the orchestrator never probed; the orchestrator filter one row.
    await page.selectOption('#filters select[name="state"]', "unknown");
    await page.waitForSelector('#xset[data-shown="1"]');
    await page.waitForSelector(setRow(getAddress(addr(keys.nouri)), "unknown"));
    await page.waitForSelector('#xcaps[data-shown="0"]');
    await page.click("#filters-clear");
    await page.fill(
      '#filters input[name="orchestrator"]',
      getAddress(addr(keys.cold)).slice(0, 12).toLowerCase(),
    );
    await page.waitForSelector('#xset[data-shown="1"]');
    await page.waitForSelector(`#xcaps[data-shown="1"] tr[data-key="text-to-image/${MODEL}"]`);
    await page.click("#filters-clear");
    await page.waitForSelector('#xset[data-shown="3"]');

    // Links: a capability's provider leads to its row in the active set, and its capability back.
    await page
      .locator(`#xcaps tr[data-key="text-to-image/${MODEL}"] li a.jump`, {
        hasText: getAddress(addr(keys.warm)),
      })
      .click();
    await page.waitForSelector('#xset[data-shown="1"]');
    assert.equal(await page.inputValue('#filters input[name="orchestrator"]'), getAddress(addr(keys.warm)));
    await page.locator(`#xset tbody a.jump`, { hasText: `text-to-image/${MODEL}` }).click();
    // The link sets the filters through the URL fragment, applied a moment later: wait for them.
    const filterIs = (name: string, value: string) =>
      page.waitForFunction(
        `document.querySelector('#filters input[name="${name}"]').value === ${JSON.stringify(value)}`,
        undefined,
        { timeout: 10_000 },
      );
    await filterIs("model", MODEL);
    await filterIs("orchestrator", "");
    await page.waitForSelector(`#xcaps[data-shown="1"] tr[data-key="text-to-image/${MODEL}"]`);
    await page.waitForSelector('#xset[data-shown="2"]', { state: "attached" });
    await page.click("#filters-clear");

    await page.screenshot({ path: "/tmp/explorer-desktop.png", fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: "/tmp/explorer-phone.png", fullPage: true });
  }

  // The cold orchestrator stops: the next round shows it unreachable and drops it from the counts.
  await coldOrch.close();
  await explorer.source.refresh();
  view = await get();
  assert.equal(view.orchestrators[1]?.state, "unreachable");
  assert.deepEqual([cap()?.warm, cap()?.cold, cap()?.providerCount], [1, 0, 2]);
  if (page && browser) {
    // One refresh later the page follows, without a reload.
    await page.waitForSelector(setRow(getAddress(addr(keys.cold)), "unreachable"));
    await page.waitForSelector(
      `#xcaps tr[data-key="text-to-image/${MODEL}"][data-warm-count="1"][data-cold-count="0"]`,
    );
    await page.selectOption('#filters select[name="state"]', "down");
    await page.waitForSelector('#xset[data-shown="1"]');
    await page.waitForSelector(setRow(getAddress(addr(keys.cold)), "unreachable"));
    assert.deepEqual(browser.problems, []);
    assert.ok(
      browser.requests.every((u) => u.startsWith(explorer.url)),
      "nothing loads from elsewhere",
    );
    await browser.close();
  }
});

const CHROMIUM = "/usr/bin/chromium";

/** Opens `url` in headless chromium, recording requests and page errors. */
async function openPage(url: string) {
  const userDataDir = mkdtempSync(join(tmpdir(), "tributary-explorer-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  let closed = false;
  const requests: string[] = [];
  const problems: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return {
    page,
    requests,
    problems,
    close: async () => {
      if (closed) return;
      closed = true;
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
