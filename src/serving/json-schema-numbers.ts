/**
 * Numeric bounds → GBNF, exactly where the bounds are integers.
 *
 * Every integer, and every number's integer part, has at most 15 digits: below 2^53, so a value
 * round-trips through a JavaScript number (a noisy model once wrote 40-digit numbers that clients
 * parsed as something else). Bounds beyond ±(10^15 − 1), such as zod's ±(2^53 − 1) for `.int()`,
 * are therefore no-ops and ignored. Bounded numbers are written without an exponent; unbounded ones
 * allow a 2-digit exponent (1e99 at most: never Infinity). A non-integer bound on a number is
 * tightened to the integers inside it (`minimum: 0.5` generates numbers from 1): the grammar then
 * allows a subset of the valid values, never one outside.
 */

export const DIGIT_CAP = 15;
const CAP = 10 ** DIGIT_CAP - 1;

export interface Bounds {
  lo: number;
  loExclusive: boolean;
  hi: number;
  hiExclusive: boolean;
}

function num(schema: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const v = schema[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * The schema's bounds with integer endpoints (tightened inwards), or undefined when none applies
 * within the digit cap. For integers the result is always inclusive.
 */
export function readBounds(schema: Readonly<Record<string, unknown>>, integer: boolean): Bounds | undefined {
  let lo = -Infinity;
  let loExclusive = false;
  let hi = Infinity;
  let hiExclusive = false;
  const raise = (v: number, exclusive: boolean): void => {
    // x > 2.5 and x >= 2.5 both tighten to x >= 3; x > 2 stays exclusive.
    const bound = Number.isInteger(v) ? v : Math.ceil(v);
    const ex = Number.isInteger(v) && exclusive;
    if (bound > lo || (bound === lo && ex)) [lo, loExclusive] = [bound, ex];
  };
  const lower = (v: number, exclusive: boolean): void => {
    const bound = Number.isInteger(v) ? v : Math.floor(v);
    const ex = Number.isInteger(v) && exclusive;
    if (bound < hi || (bound === hi && ex)) [hi, hiExclusive] = [bound, ex];
  };
  const min = num(schema, "minimum");
  const max = num(schema, "maximum");
  const exMin = num(schema, "exclusiveMinimum");
  const exMax = num(schema, "exclusiveMaximum");
  // Draft 4 and OpenAPI 3.0 spell exclusivity as a boolean beside minimum/maximum.
  if (min !== undefined) raise(min, schema["exclusiveMinimum"] === true);
  if (exMin !== undefined) raise(exMin, true);
  if (max !== undefined) lower(max, schema["exclusiveMaximum"] === true);
  if (exMax !== undefined) lower(exMax, true);
  if (integer) {
    if (loExclusive) [lo, loExclusive] = [lo + 1, false];
    if (hiExclusive) [hi, hiExclusive] = [hi - 1, false];
  }
  // The digit cap bounds everything anyway: a bound beyond it constrains nothing.
  if (lo < -CAP) [lo, loExclusive] = [-CAP, false];
  if (hi > CAP) [hi, hiExclusive] = [CAP, false];
  if (lo === -CAP && hi === CAP) return undefined;
  return { lo, loExclusive, hi, hiExclusive };
}

/** True when no value lies within the bounds. */
export function isEmpty(b: Bounds): boolean {
  return b.lo > b.hi || (b.lo === b.hi && (b.loExclusive || b.hiExclusive));
}

/** GBNF for the decimal digits of the integers in [lo, hi], 0 <= lo <= hi, no leading zeros. */
function digitsRange(lo: number, hi: number): string {
  const alts: string[] = [];
  for (let len = String(lo).length; len <= String(hi).length; len++) {
    const from = Math.max(lo, len === 1 ? 0 : 10 ** (len - 1));
    const to = Math.min(hi, 10 ** len - 1);
    if (from <= to) alts.push(sameLength(String(from), String(to)));
  }
  return alts.length === 1 ? (alts[0] ?? "") : `( ${alts.join(" | ")} )`;
}

/** Strings of digits between a and b (same length), in the classic prefix-splitting form. */
function sameLength(a: string, b: string): string {
  if (a === b) return `"${a}"`;
  const n = a.length;
  const [a0, b0] = [Number(a[0]), Number(b[0])];
  const klass = (x: number, y: number): string => (x === y ? `"${x}"` : `[${x}-${y}]`);
  const any = (k: number): string => (k === 0 ? "" : k === 1 ? " [0-9]" : ` [0-9]{${k}}`);
  if (n === 1) return klass(a0, b0);
  const [ra, rb] = [a.slice(1), b.slice(1)];
  if (a0 === b0) return `"${a0}" ${sameLength(ra, rb)}`;
  const alts: string[] = [];
  const loFull = /^0*$/.test(ra);
  const hiFull = /^9*$/.test(rb);
  if (!loFull) alts.push(`"${a0}" ${sameLength(ra, "9".repeat(n - 1))}`);
  const mid = [loFull ? a0 : a0 + 1, hiFull ? b0 : b0 - 1] as const;
  if (mid[0] <= mid[1]) alts.push(`${klass(mid[0], mid[1])}${any(n - 1)}`);
  if (!hiFull) alts.push(`"${b0}" ${sameLength("0".repeat(n - 1), rb)}`);
  return alts.length === 1 ? (alts[0] ?? "") : `( ${alts.join(" | ")} )`;
}

/** GBNF for the integers in [lo, hi] (inclusive, lo <= hi). */
export function integerRange(lo: number, hi: number): string {
  const alts: string[] = [];
  if (lo < 0) alts.push(`"-" ${digitsRange(Math.max(1, -hi), -lo)}`);
  if (hi >= 0) alts.push(digitsRange(Math.max(0, lo), hi));
  return alts.length === 1 ? (alts[0] ?? "") : `( ${alts.join(" | ")} )`;
}

const FRACTION = `( "." [0-9]{1,15} )`;
const NONZERO_FRACTION = `"." "0"{0,14} [1-9] [0-9]{0,14}`;
const ZERO_FRACTION = `( "." "0"{1,15} )`;

/** Non-negative decimals between lo and hi (integers, 0 <= lo <= hi). */
function nonNegative(lo: number, loEx: boolean, hi: number, hiEx: boolean): string[] {
  const alts: string[] = [];
  // x = I + f: x > lo iff I > lo or (I = lo and f > 0); x <= hi iff I < hi or (I = hi and f = 0).
  const first = loEx ? lo + 1 : lo;
  if (first <= hi - 1) alts.push(`${digitsRange(first, hi - 1)} ${FRACTION}?`);
  if (loEx && lo < hi) alts.push(`${digitsRange(lo, lo)} ${NONZERO_FRACTION}`);
  if (!hiEx && !(loEx && lo === hi)) alts.push(`${digitsRange(hi, hi)} ${ZERO_FRACTION}?`);
  return alts;
}

/** GBNF for the numbers within `b` (not empty). */
export function numberRange(b: Bounds): string {
  const alts: string[] = [];
  if (b.lo < 0) {
    // x < 0: x = -y with y in (max(0, -hi), -lo], exclusivity swapped.
    const [yLo, yLoEx] = b.hi < 0 ? [-b.hi, b.hiExclusive] : [0, true];
    for (const a of nonNegative(yLo, yLoEx, -b.lo, b.loExclusive)) alts.push(`"-" ${a}`);
  }
  if (b.hi >= 0) {
    const [lo, loEx] = b.lo >= 0 ? [b.lo, b.loExclusive] : [0, false];
    alts.push(...nonNegative(lo, loEx, b.hi, b.hiExclusive));
  }
  return alts.length === 1 ? (alts[0] ?? "") : `( ${alts.join(" | ")} )`;
}
