/**
 * Exact rational numbers on bigint, the TypeScript counterpart of Go's `big.Rat` used for ticket EV,
 * prices and balances (docs/spec/payments.md#conventions, #balances). Values are immutable and always kept in
 * lowest terms with a positive denominator, so `num`/`den` equal Go's `Num()`/`Denom()`.
 */

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** An exact fraction `num / den` in lowest terms with `den > 0`. */
export class Rat {
  /** Numerator (sign of the value). */
  readonly num: bigint;
  /** Denominator, always > 0. */
  readonly den: bigint;

  private constructor(num: bigint, den: bigint) {
    this.num = num;
    this.den = den;
  }

  /** `num / den`, reduced; throws RangeError on a zero denominator. */
  static of(num: bigint, den = 1n): Rat {
    if (den === 0n) throw new RangeError("zero denominator");
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const g = gcd(num, den);
    return g > 1n ? new Rat(num / g, den / g) : new Rat(num, den);
  }

  /** Zero. */
  static readonly ZERO: Rat = Rat.of(0n);

  /**
   * Parses `"n"`, `"n/d"` or a decimal `"1.25"` (the forms {@link Rat.toString} and JSON configs use).
   * Throws RangeError on anything else.
   */
  static parse(text: string): Rat {
    const t = text.trim();
    const frac = /^(-?\d+)\/(\d+)$/.exec(t);
    if (frac) return Rat.of(BigInt(frac[1]!), BigInt(frac[2]!));
    const dec = /^(-?)(\d+)(?:\.(\d+))?$/.exec(t);
    if (dec) {
      const digits = dec[3] ?? "";
      const n = BigInt(`${dec[2]}${digits}`) * (dec[1] === "-" ? -1n : 1n);
      return Rat.of(n, 10n ** BigInt(digits.length));
    }
    throw new RangeError(`not a rational number: ${JSON.stringify(text)}`);
  }

  add(o: Rat | bigint): Rat {
    const r = toRat(o);
    return Rat.of(this.num * r.den + r.num * this.den, this.den * r.den);
  }

  sub(o: Rat | bigint): Rat {
    const r = toRat(o);
    return Rat.of(this.num * r.den - r.num * this.den, this.den * r.den);
  }

  mul(o: Rat | bigint): Rat {
    const r = toRat(o);
    return Rat.of(this.num * r.num, this.den * r.den);
  }

  /** Division; throws RangeError when dividing by zero. */
  div(o: Rat | bigint): Rat {
    const r = toRat(o);
    if (r.num === 0n) throw new RangeError("division by zero");
    return Rat.of(this.num * r.den, this.den * r.num);
  }

  /** -1, 0 or 1 as this is less than, equal to or greater than `o`. */
  cmp(o: Rat | bigint): -1 | 0 | 1 {
    const r = toRat(o);
    const d = this.num * r.den - r.num * this.den;
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }

  /** True when the value is an integer. */
  isInt(): boolean {
    return this.den === 1n;
  }

  isZero(): boolean {
    return this.num === 0n;
  }

  /** Largest integer ≤ the value. */
  floor(): bigint {
    const q = this.num / this.den;
    return this.num < 0n && q * this.den !== this.num ? q - 1n : q;
  }

  /** Smallest integer ≥ the value. */
  ceil(): bigint {
    const q = this.num / this.den;
    return this.num > 0n && q * this.den !== this.num ? q + 1n : q;
  }

  /** Decimal string rounded half away from zero to `digits` places (Go `FloatString`). */
  toFixed(digits: number): string {
    const scale = 10n ** BigInt(digits);
    const neg = this.num < 0n;
    const abs = neg ? -this.num : this.num;
    let scaled = (abs * scale) / this.den;
    const rem = (abs * scale) % this.den;
    if (rem * 2n >= this.den) scaled += 1n;
    const s = scaled.toString().padStart(digits + 1, "0");
    const body = digits > 0 ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
    return neg && scaled !== 0n ? `-${body}` : body;
  }

  /** `"n"` for integers, else `"n/d"` (Go `RatString`). */
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function toRat(v: Rat | bigint): Rat {
  return typeof v === "bigint" ? Rat.of(v) : v;
}
