/**
 * JSON Schema `pattern` (ECMA-262 regex, unicode mode, as ajv runs it) → a GBNF expression for the
 * JSON-encoded *content* of the strings it matches (the quotes are the caller's).
 *
 * The subset compiled is the regular one: literals and escapes (\d \w \s \D \W \S \t \n \r \f \v \0
 * \xHH \uHHHH \u{…} and escaped syntax characters), classes `[...]` and `[^...]`, `.`, groups
 * `(…)`, `(?:…)` and `(?<name>…)`, alternation `|`, quantifiers `?` `*` `+` `{n}` `{n,}` `{n,m}` (lazy
 * or not: same language), and the anchors `^`/`$` at the start/end of a top-level alternative. A
 * side without its anchor matches anything there (JSON Schema patterns search, they do not match
 * whole strings). Lookarounds, backreferences, `\b`, `\p{…}` and anchors elsewhere cannot be
 * written as a context-free grammar of the string: parsePattern names them and the request is a 400.
 *
 * Characters are emitted as the model must write them inside a JSON string: `"` as \", `\` as \\,
 * control characters as escapes, and `<` always as \u003c, so a control token's spelling ("<|…|>")
 * can never appear as text. Other characters are written raw (a JSON escape of a plain letter is
 * valid JSON, but not one the grammar offers: a subset of the matching documents, never more).
 */

/** Inclusive code point ranges, sorted and disjoint. */
export type CharSet = readonly (readonly [number, number])[];

export type PatternNode =
  | { kind: "chars"; set: CharSet }
  | { kind: "seq"; items: PatternNode[] }
  | { kind: "alt"; branches: PatternNode[] }
  | { kind: "repeat"; node: PatternNode; min: number; max: number | undefined };

const MAX_CODE_POINT = 0x10ffff;
const DIGIT: CharSet = [[0x30, 0x39]];
const WORD: CharSet = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: CharSet = normalize([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
/** `.`: anything but a line terminator. */
const DOT: CharSet = complement([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]);
export const ANY_CHAR: CharSet = [[0, MAX_CODE_POINT]];

function normalize(ranges: (readonly [number, number])[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function complement(set: CharSet): CharSet {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of normalize([...set])) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

export type PatternResult =
  | { ok: true; node: PatternNode; anchoredStart: boolean; anchoredEnd: boolean }[]
  | { ok: false; reason: string };

class PatternError extends Error {}

/** Parses a pattern into its top-level alternatives, or says which construct cannot be compiled. */
export function parsePattern(pattern: string): PatternResult {
  try {
    new RegExp(pattern, "u");
  } catch {
    return { ok: false, reason: "is not a valid regular expression (ECMA-262, unicode mode)" };
  }
  try {
    return new Parser(pattern).topLevel();
  } catch (error) {
    if (error instanceof PatternError) return { ok: false, reason: error.message };
    throw error;
  }
}

class Parser {
  readonly #cps: number[];
  #i = 0;

  constructor(pattern: string) {
    this.#cps = [...pattern].map((c) => c.codePointAt(0) ?? 0);
  }

  #peek(offset = 0): string | undefined {
    const cp = this.#cps[this.#i + offset];
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  #fail(what: string): never {
    throw new PatternError(`uses ${what} (at offset ${this.#i}), which the grammar cannot enforce`);
  }

  topLevel(): { ok: true; node: PatternNode; anchoredStart: boolean; anchoredEnd: boolean }[] {
    const branches: { ok: true; node: PatternNode; anchoredStart: boolean; anchoredEnd: boolean }[] = [];
    for (;;) {
      const anchoredStart = this.#peek() === "^";
      if (anchoredStart) this.#i++;
      const items = this.#sequence(true);
      const anchoredEnd = this.#peek() === "$";
      if (anchoredEnd) this.#i++;
      const after = this.#peek();
      if (after !== undefined && after !== "|") this.#fail("an anchor ('$') before the end");
      branches.push({ ok: true, node: { kind: "seq", items }, anchoredStart, anchoredEnd });
      if (after === undefined) return branches;
      this.#i++; // "|"
    }
  }

  #alternation(): PatternNode {
    const branches = [{ kind: "seq", items: this.#sequence(false) } as PatternNode];
    while (this.#peek() === "|") {
      this.#i++;
      branches.push({ kind: "seq", items: this.#sequence(false) });
    }
    return branches.length === 1 && branches[0] !== undefined ? branches[0] : { kind: "alt", branches };
  }

  /** Atoms with their quantifiers, up to "|", ")" or the end (top level: or a final "$"). */
  #sequence(topLevel: boolean): PatternNode[] {
    const items: PatternNode[] = [];
    for (let c = this.#peek(); c !== undefined && c !== "|" && c !== ")"; c = this.#peek()) {
      if (c === "$" && topLevel && (this.#peek(1) === undefined || this.#peek(1) === "|")) break;
      if (c === "^" || c === "$") this.#fail(`an anchor ('${c}') inside the pattern`);
      items.push(this.#quantified(this.#atom()));
    }
    return items;
  }

  #quantified(node: PatternNode): PatternNode {
    const c = this.#peek();
    let min: number;
    let max: number | undefined;
    if (c === "?" || c === "*" || c === "+") {
      this.#i++;
      [min, max] = c === "?" ? [0, 1] : c === "*" ? [0, undefined] : [1, undefined];
    } else if (c === "{" && /^\{\d+(,\d*)?\}/.test(this.#rest())) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.#rest()) ?? [];
      this.#i += (m[0] ?? "").length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
    } else {
      return node;
    }
    if (this.#peek() === "?") this.#i++; // lazy: the same strings
    return { kind: "repeat", node, min, max };
  }

  #rest(): string {
    return String.fromCodePoint(...this.#cps.slice(this.#i, this.#i + 24));
  }

  #atom(): PatternNode {
    const c = this.#peek() ?? "";
    this.#i++;
    switch (c) {
      case "(": {
        if (this.#peek() === "?") {
          const kind = this.#peek(1);
          if (kind === ":") this.#i += 2;
          else if (kind === "<" && /^[A-Za-z_$]/.test(this.#peek(2) ?? "")) {
            while (this.#peek() !== ">") this.#i++;
            this.#i++;
          } else this.#fail("a lookaround assertion");
        }
        const inner = this.#alternation();
        this.#i++; // ")"
        return inner;
      }
      case "[":
        return { kind: "chars", set: this.#class() };
      case ".":
        return { kind: "chars", set: DOT };
      case "\\":
        return { kind: "chars", set: this.#escape(false) };
      default:
        return { kind: "chars", set: [[c.codePointAt(0) ?? 0, c.codePointAt(0) ?? 0]] };
    }
  }

  #class(): CharSet {
    const negated = this.#peek() === "^";
    if (negated) this.#i++;
    const ranges: (readonly [number, number])[] = [];
    // JavaScript has no literal "]" first in a class: "[]" matches nothing, "[^]" anything.
    while (this.#peek() !== "]") {
      const lo = this.#classAtom();
      if (this.#peek() === "-" && this.#peek(1) !== "]" && lo.length === 1 && lo[0]?.[0] === lo[0]?.[1]) {
        this.#i++;
        const hi = this.#classAtom();
        const a = lo[0]?.[0] ?? 0;
        const b = hi[0]?.[0] ?? 0;
        if (hi.length !== 1 || hi[0]?.[0] !== hi[0]?.[1])
          this.#fail("a class range ending in a class escape");
        ranges.push([a, b]);
      } else ranges.push(...lo);
    }
    this.#i++; // "]"
    const set = negated ? complement(normalize(ranges)) : normalize(ranges);
    if (set.length === 0) this.#fail("a class that matches no character");
    return set;
  }

  #classAtom(): CharSet {
    const c = this.#peek() ?? "";
    this.#i++;
    if (c === "\\") return this.#escape(true);
    const cp = c.codePointAt(0) ?? 0;
    return [[cp, cp]];
  }

  /** After a backslash. */
  #escape(inClass: boolean): CharSet {
    const c = this.#peek() ?? "";
    this.#i++;
    const one = (cp: number): CharSet => [[cp, cp]];
    switch (c) {
      case "d":
        return DIGIT;
      case "D":
        return complement(DIGIT);
      case "w":
        return WORD;
      case "W":
        return complement(WORD);
      case "s":
        return SPACE;
      case "S":
        return complement(SPACE);
      case "t":
        return one(0x09);
      case "n":
        return one(0x0a);
      case "r":
        return one(0x0d);
      case "f":
        return one(0x0c);
      case "v":
        return one(0x0b);
      case "0":
        return one(0);
      case "b":
        if (inClass) return one(0x08);
        return this.#fail("a word boundary (\\b)");
      case "x":
      case "u": {
        const m =
          c === "x"
            ? /^[0-9a-fA-F]{2}/.exec(this.#rest())
            : (/^\{([0-9a-fA-F]{1,6})\}/.exec(this.#rest()) ?? /^[0-9a-fA-F]{4}/.exec(this.#rest()));
        const text = m?.[0] ?? "";
        this.#i += text.length;
        return one(parseInt(m?.[1] ?? text, 16));
      }
      case "p":
      case "P":
        return this.#fail("a Unicode property escape (\\p{…})");
      case "B":
        return this.#fail("a non-boundary assertion (\\B)");
      case "c":
        return this.#fail("a control escape (\\c)");
      default:
        if (/[1-9k]/.test(c)) return this.#fail("a backreference");
        return one(c.codePointAt(0) ?? 0);
    }
  }
}
