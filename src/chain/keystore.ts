/**
 * Node keys from files: a raw hex private key, or a go-ethereum V3 JSON keystore ("Web3 Secret
 * Storage": scrypt or pbkdf2-hmac-sha256 KDF, aes-128-ctr, MAC = keccak256(dk[16..32] ‖ ciphertext)),
 * or a keystore directory as go-livepeer's `-ethKeystorePath` takes it (one account picked by
 * `-ethAcctAddr`, or the only one). The password follows go-livepeer's `-ethPassword`: the contents
 * of the named file (trimmed) when it is one, else the value itself.
 *
 * {@link decryptKeystore} and {@link encryptKeystore} are pure apart from node:crypto; {@link loadKeyFile}
 * reads files.
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { getAddress, type Hex, isAddress, isAddressEqual, keccak256 } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { TributaryError } from "../node/errors.ts";
import { parsePrivateKey } from "./clients.ts";
import { scryptFallback } from "./keystore-scrypt.ts";

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/** Bounds that keep a hostile keystore from exhausting memory or CPU (geth's "standard" is N=2^18, r=8, p=1). */
const MAX_SCRYPT_N = 2 ** 20;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024; // 1 GiB
const MAX_PBKDF2_ROUNDS = 10_000_000;

/** A keystore or key file is malformed or uses something we do not support. */
export class KeystoreError extends TributaryError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, status: 400 });
  }
}

/** The password does not open the keystore (its MAC does not match). */
export class KeystorePasswordError extends KeystoreError {
  constructor(source: string) {
    super(
      "KEYSTORE_WRONG_PASSWORD",
      `wrong password for ${source}: the keystore's MAC check failed; check --password (go-livepeer: -ethPassword)`,
    );
  }
}

function invalid(source: string, what: string): KeystoreError {
  return new KeystoreError("KEYSTORE_INVALID", `${source} is not a usable V3 keystore: ${what}`);
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;

function hexField(o: Json, key: string, source: string, bytes?: number): Buffer {
  const v = o[key];
  const h = typeof v === "string" ? v.replace(/^0x/i, "") : "";
  if (!/^([0-9a-fA-F]{2})+$/.test(h) || (bytes !== undefined && h.length !== bytes * 2))
    throw invalid(source, `${key} must be ${bytes === undefined ? "" : `${bytes}-byte `}hex`);
  return Buffer.from(h, "hex");
}

function intField(o: Json, key: string, source: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw invalid(source, `kdfparams.${key} must be an integer in ${min} … ${max}`);
  return v;
}

/** True when `text` looks like a JSON keystore (an object with `crypto` or `Crypto`). */
export function isKeystoreJson(text: string): boolean {
  const t = text.trimStart();
  if (!t.startsWith("{")) return false;
  try {
    const o = obj(JSON.parse(t));
    return o !== undefined && (obj(o.crypto) !== undefined || obj(o.Crypto) !== undefined);
  } catch {
    return false;
  }
}

/** The `address` a keystore declares (go-livepeer reads it to pick the account), if any. */
export function keystoreAddress(keystore: unknown): Hex | undefined {
  const a = obj(keystore)?.address;
  if (typeof a !== "string") return undefined;
  const hex = a.startsWith("0x") || a.startsWith("0X") ? a : `0x${a}`;
  return isAddress(hex, { strict: false }) ? getAddress(hex) : undefined;
}

/**
 * Decrypts a V3 keystore (the parsed JSON) with `password` (UTF-8, as geth takes it) and returns the
 * 0x private key. `source` names the file in errors. Throws KeystorePasswordError for a wrong
 * password (MAC mismatch) and KeystoreError for anything malformed or unsupported; also when the
 * declared `address` is not the key's.
 */
export async function decryptKeystore(
  keystore: unknown,
  password: string,
  source = "keystore",
): Promise<Hex> {
  const root = obj(keystore);
  if (root === undefined) throw invalid(source, "not a JSON object");
  if (root.version !== 3)
    throw invalid(source, `version ${JSON.stringify(root.version)} (only 3 is supported)`);
  const c = obj(root.crypto) ?? obj(root.Crypto);
  if (c === undefined) throw invalid(source, "no crypto section");
  if (c.cipher !== "aes-128-ctr")
    throw invalid(source, `cipher ${JSON.stringify(c.cipher)} (only aes-128-ctr)`);
  const iv = hexField(obj(c.cipherparams) ?? {}, "iv", source, 16);
  const ciphertext = hexField(c, "ciphertext", source);
  const mac = hexField(c, "mac", source, 32);
  const params = obj(c.kdfparams);
  if (params === undefined) throw invalid(source, "no kdfparams");
  const salt = hexField(params, "salt", source);
  const dklen = intField(params, "dklen", source, 32, 64);
  const pass = Buffer.from(password, "utf8");
  let derived: Buffer;
  if (c.kdf === "scrypt") {
    const n = intField(params, "n", source, 2, MAX_SCRYPT_N);
    if ((n & (n - 1)) !== 0) throw invalid(source, "kdfparams.n must be a power of two");
    const r = intField(params, "r", source, 1, MAX_SCRYPT_R);
    const p = intField(params, "p", source, 1, MAX_SCRYPT_P);
    // node needs maxmem above 128·N·r (the V array) plus its working blocks; the default is 32 MiB.
    const needed = 128 * n * r + 128 * r * p + 1024 * 1024;
    if (needed > MAX_SCRYPT_MEMORY) throw invalid(source, "scrypt parameters need more than 1 GiB of memory");
    // OpenSSL refuses N ≥ 2^(16·r) (RFC 7914's bound), which geth accepts: then our own ROMix.
    derived =
      n >= 2 ** (16 * r)
        ? scryptFallback(pass, salt, n, r, p, dklen)
        : await scryptAsync(pass, salt, dklen, { N: n, r, p, maxmem: needed });
  } else if (c.kdf === "pbkdf2") {
    if (params.prf !== "hmac-sha256")
      throw invalid(source, `pbkdf2 prf ${JSON.stringify(params.prf)} (only hmac-sha256)`);
    const rounds = intField(params, "c", source, 1, MAX_PBKDF2_ROUNDS);
    derived = await pbkdf2Async(pass, salt, rounds, dklen, "sha256");
  } else {
    throw invalid(source, `kdf ${JSON.stringify(c.kdf)} (scrypt or pbkdf2 only)`);
  }
  const expected = Buffer.from(
    keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])).slice(2),
    "hex",
  );
  if (!timingSafeEqual(expected, mac)) throw new KeystorePasswordError(source);
  const decipher = createDecipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const key = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  if (key.length !== 32) throw invalid(source, `the key is ${key.length} bytes, not 32`);
  const privateKey = `0x${key.toString("hex")}` as Hex;
  const declared = keystoreAddress(root);
  if (declared !== undefined && !isAddressEqual(declared, privateKeyToAddress(privateKey)))
    throw invalid(
      source,
      `it declares address ${declared} but holds the key of ${privateKeyToAddress(privateKey)}`,
    );
  return privateKey;
}

/** scrypt cost of {@link encryptKeystore}; default geth's "standard" N = 2^18, r = 8, p = 1. */
export interface KeystoreScryptCost {
  n: number;
  r: number;
  p: number;
}

/**
 * Encrypts a private key into a V3 keystore as geth writes it (scrypt, aes-128-ctr, address without
 * 0x). Tests pass a small `cost` (e.g. N = 1024) to stay fast.
 */
export async function encryptKeystore(
  privateKey: Hex,
  password: string,
  cost: KeystoreScryptCost = { n: 2 ** 18, r: 8, p: 1 },
): Promise<Record<string, unknown>> {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const maxmem = 128 * cost.n * cost.r + 128 * cost.r * cost.p + 1024 * 1024;
  const dk = await scryptAsync(Buffer.from(password, "utf8"), salt, 32, {
    N: cost.n,
    r: cost.r,
    p: cost.p,
    maxmem,
  });
  const cipher = createCipheriv("aes-128-ctr", dk.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), "hex")), cipher.final()]);
  return {
    address: privateKeyToAddress(privateKey).slice(2).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      cipherparams: { iv: iv.toString("hex") },
      ciphertext: ciphertext.toString("hex"),
      kdf: "scrypt",
      kdfparams: { dklen: 32, n: cost.n, r: cost.r, p: cost.p, salt: salt.toString("hex") },
      mac: keccak256(Buffer.concat([dk.subarray(16, 32), ciphertext])).slice(2),
    },
    id: randomUUID(),
    version: 3,
  };
}

/** Options of {@link loadKeyFile}. */
export interface LoadKeyOptions {
  /** Password, or a file holding it (go-livepeer `-ethPassword`); needed for a JSON keystore. */
  password?: string;
  /** With a keystore directory: the account to use (go-livepeer `-ethAcctAddr`). */
  account?: string;
}

/**
 * Resolves a password the way go-livepeer's `common.ReadFromFile` does: the trimmed contents of
 * the file when `value` names a non-empty file, else `value` itself.
 */
export async function readPassword(value: string): Promise<string> {
  try {
    if ((await stat(value)).isFile()) {
      const text = (await readFile(value, "utf8")).trim();
      if (text !== "") return text;
    }
  } catch {
    // not a readable file: the value is the password itself
  }
  return value;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new KeystoreError(
      "KEY_FILE_UNREADABLE",
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err },
    );
  }
}

async function pickFromDirectory(dir: string, account: string | undefined): Promise<string> {
  const found: { path: string; address: Hex | undefined }[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile()) continue;
    const text = await readFile(path, "utf8").catch(() => "");
    if (isKeystoreJson(text)) found.push({ path, address: keystoreAddress(JSON.parse(text)) });
  }
  if (account !== undefined) {
    const hit = found.find((f) => f.address !== undefined && isAddressEqual(f.address, account as Hex));
    if (hit === undefined)
      throw new KeystoreError(
        "KEYSTORE_ACCOUNT_NOT_FOUND",
        `no keystore for ${account} in ${dir} (found: ${found.map((f) => f.address ?? f.path).join(", ") || "none"})`,
      );
    return hit.path;
  }
  if (found.length === 1) return (found[0] as { path: string }).path;
  throw new KeystoreError(
    "KEYSTORE_ACCOUNT_REQUIRED",
    found.length === 0
      ? `no JSON keystore in ${dir}`
      : `${dir} holds ${found.length} keystores (${found.map((f) => f.address ?? f.path).join(", ")}); pick one with --eth-acct-addr`,
  );
}

/**
 * Loads a node key from `path`: a hex private key file, a V3 JSON keystore (needs
 * `options.password`), or a directory of keystores. Errors are KeystoreError (400) naming the file.
 */
export async function loadKeyFile(path: string, options: LoadKeyOptions = {}): Promise<Hex> {
  if (options.account !== undefined && !isAddress(options.account, { strict: false }))
    throw new KeystoreError(
      "KEYSTORE_ACCOUNT_INVALID",
      `--eth-acct-addr ${options.account} is not an address`,
    );
  let file = path;
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    // readText reports a missing file
  }
  if (isDir) file = await pickFromDirectory(path, options.account);
  const text = await readText(file, "key file");
  if (!isKeystoreJson(text)) {
    try {
      return parsePrivateKey(text, `key file ${file}`);
    } catch {
      throw new KeystoreError(
        "INVALID_PRIVATE_KEY",
        `key file ${file} holds neither a hex private key (64 hex digits, optional 0x) nor a V3 JSON keystore`,
      );
    }
  }
  if (options.password === undefined)
    throw new KeystoreError(
      "KEYSTORE_PASSWORD_REQUIRED",
      `key file ${file} is an encrypted JSON keystore: give its password with --password <file> (go-livepeer: -ethPassword)`,
    );
  const keystore = JSON.parse(text) as unknown;
  const key = await decryptKeystore(keystore, await readPassword(options.password), `key file ${file}`);
  if (options.account !== undefined && !isAddressEqual(privateKeyToAddress(key), options.account as Hex))
    throw new KeystoreError(
      "KEYSTORE_ACCOUNT_MISMATCH",
      `key file ${file} holds ${privateKeyToAddress(key)}, not --eth-acct-addr ${options.account}`,
    );
  return key;
}
