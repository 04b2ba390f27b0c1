/**
 * The key options the orchestrator and the gateway share besides `--key-file` (options.ts):
 * `--password` (go-livepeer `-ethPassword`) and `--eth-acct-addr` (`-ethAcctAddr`), and loading the
 * node's key from them. Each CLI adds both with `.addOption(passwordOption())` and
 * `.addOption(ethAcctAddrOption())`. `--key-file` (`-ethKeystorePath`) takes a hex key file, a V3
 * JSON keystore or a keystore directory (src/chain/keystore.ts).
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { Option } from "commander";
import type { Hex } from "viem";
import { loadKeyFile } from "../chain/keystore.ts";

/** go-livepeer flag → our flag, for {@link passwordOption} and {@link ethAcctAddrOption}. */
export const KEY_GO_FLAG_ALIASES: Readonly<Record<string, string>> = {
  ethPassword: "--password",
  ethAcctAddr: "--eth-acct-addr",
};

/**
 * go-livepeer's flags for what every key-holding node shares (`addNodeOptions` and the key options):
 * the network, the chain URL, the key file with its password and account, the data directory.
 */
export const NODE_GO_FLAG_ALIASES: Readonly<Record<string, string>> = {
  network: "--network",
  ethUrl: "--eth-url",
  ethKeystorePath: "--key-file",
  ...KEY_GO_FLAG_ALIASES,
  dataDir: "--data-dir",
};

/** The parsed key options. */
export interface KeyCliOptions {
  keyFile?: string;
  password?: string;
  ethAcctAddr?: string;
  /** `--data-dir`: without `--key-file`, `<data-dir>/keystore` is used when it exists (as go-livepeer). */
  dataDir?: string;
}

/**
 * The key file or keystore directory to read: `--key-file`, else `<data-dir>/keystore` when that
 * directory exists (go-livepeer's default `-ethKeystorePath`; unlike go-livepeer, no account is
 * created when it is missing), else undefined.
 */
export function keyFileOf(opts: KeyCliOptions): string | undefined {
  if (opts.keyFile !== undefined) return opts.keyFile;
  if (opts.dataDir === undefined) return undefined;
  const dir = join(opts.dataDir, "keystore");
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}

/** `--password <file|value>` (go-livepeer `-ethPassword`). */
export function passwordOption(): Option {
  return new Option(
    "--password <file|value>",
    "password of a JSON keystore --key-file: a file holding it, else the value itself",
  ).env("TRIBUTARY_PASSWORD");
}

/** `--eth-acct-addr <address>` (go-livepeer `-ethAcctAddr`). */
export function ethAcctAddrOption(): Option {
  return new Option(
    "--eth-acct-addr <address>",
    "account to use when --key-file is a keystore directory holding several",
  ).env("TRIBUTARY_ETH_ACCT_ADDR");
}

/**
 * The node's private key from `--key-file` or `<data-dir>/keystore` (undefined without either). Rejects with a KeystoreError
 * naming the file (wrong password, password missing, malformed keystore, unreadable file).
 */
export async function loadNodeKey(opts: KeyCliOptions): Promise<Hex | undefined> {
  const file = keyFileOf(opts);
  if (file === undefined) return undefined;
  return loadKeyFile(file, {
    ...(opts.password === undefined ? {} : { password: opts.password }),
    ...(opts.ethAcctAddr === undefined ? {} : { account: opts.ethAcctAddr }),
  });
}
