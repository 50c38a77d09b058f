/**
 * Our grammar (llama.cpp's GBNF with `<[id]>` token references, serving/harmony-grammar.ts) → the
 * EBNF of xgrammar, which vLLM (`structured_outputs.grammar`) and SGLang (`sampling_params.ebnf`)
 * compile. xgrammar's EBNF is GBNF's superset in syntax (docs/defining_structures/ebnf_grammar.md in
 * mlc-ai/xgrammar), but not in every meaning, so the grammar is parsed as llama.cpp parses it
 * (grammar-parser.cpp) and written again:
 *
 * - `\xHH` is two hex digits in GBNF and any number in xgrammar (`"\x0aA"` would be U+0AA there):
 *   every character that is not a letter or digit is written as a fixed-width `\uXXXX`/`\UXXXXXXXX`.
 * - A GBNF name may start with a digit, an xgrammar name may not; an empty alternative (`( "a" | )`)
 *   is written `""` (xgrammar's sequences are not empty); a repetition applied to a repetition
 *   (`x*?`, legal in GBNF) is parenthesised (xgrammar refuses `x*?`). `{m,n}`, comments, `[^…]` and
 *   `-` in names mean the same in both (xgrammar has had repetition ranges since 0.1.10).
 * - `.` (any character) is the class of every code point.
 * - `<[id]>` matches one token in GBNF. xgrammar's `Token(id)` exists only from 0.1.33 (2026-03);
 *   vLLM pinned 0.1.27 and 0.1.29 in its 0.13 and 0.14 releases and an upstream may run anything
 *   older, so a control token is matched by its text: "<|channel|>".
 *   That is how vLLM's own gpt-oss structural tags match them (they trigger on
 *   "<|channel|>analysis"), and it works because xgrammar reads the added tokens' text from the
 *   vocabulary. It is one degree looser than a token reference: the same text spelled by ordinary
 *   tokens ("<|", "channel", "|>") matches too, and our harmony parser, which reads token ids, would
 *   take that as text. A model puts its mass on the control token there, so this is a risk of the
 *   grammar's guarantee at those points, not a path it offers by design.
 * - `!<[id]>` (any token but one) has no text equivalent: refused, as is a token reference to
 *   anything but a harmony control token.
 *
 * Stops: xgrammar lets a stop token through only where the grammar is complete, and its stop tokens
 * are the tokenizer's EOS (`TokenizerInfo.from_huggingface`: gpt-oss's `<|return|>`), which it keeps
 * out of the matchable vocabulary. Our other stop tokens (`<|call|>`) are ordinary vocabulary to it,
 * so the translated grammar ends with them, optional: at the end of any branch the model may stop
 * with `<|return|>` or `<|call|>`, as it may under llama.cpp (serving bans the one a request cannot
 * end with through logit bias).
 */
import { ServerError } from "../../errors/server-error.ts";
import { SPECIAL_TOKENS, SPECIAL_TOKEN_TEXT, type SpecialTokenName } from "../../harmony/special-tokens.ts";

/** xgrammar's own stop token for gpt-oss: the tokenizer's EOS (tokenizer_config.json's eos_token). */
const XGRAMMAR_EOS = SPECIAL_TOKENS.return;

/** The root of the translated grammar; the GBNF's own root is renamed (GBNF names have no `_`). */
const HARMONY_ROOT = "_harmony";

type Quantifier = { min: number; max: number | undefined };
type Atom =
  | { kind: "literal"; codePoints: number[] }
  | { kind: "class"; negated: boolean; ranges: Array<[number, number]> }
  | { kind: "ref"; name: string }
  | { kind: "group"; alternatives: Item[][] }
  | { kind: "any" }
  | { kind: "token"; id: number; negated: boolean };
interface Item {
  atom: Atom;
  quantifiers: Quantifier[];
}

const TOKEN_TEXT = new Map<number, string>(
  (Object.keys(SPECIAL_TOKENS) as SpecialTokenName[]).map((name) => [
    SPECIAL_TOKENS[name],
    SPECIAL_TOKEN_TEXT[name],
  ]),
);

/** The grammar cannot be said in xgrammar's EBNF: the request cannot run on this upstream. */
function refuse(what: string): ServerError {
  return new ServerError(
    "engine_error",
    `This upstream's grammar engine (xgrammar) cannot express the request's grammar: ${what}.`,
  );
}

/**
 * xgrammar EBNF for `gbnf`, whose generations may end with any of `stopTokens` (the request's: the
 * ones xgrammar does not already stop on become an optional last literal).
 */
export function toXgrammarEbnf(gbnf: string, stopTokens: readonly number[]): string {
  const rules = new GbnfParser(gbnf).rules();
  if (!rules.has("root")) throw refuse("it has no root rule");
  const endings = [...new Set(stopTokens)]
    .filter((id) => id !== XGRAMMAR_EOS && TOKEN_TEXT.has(id))
    .map((id) => literal([...(TOKEN_TEXT.get(id) ?? "")].map((c) => c.codePointAt(0) ?? 0)));
  const lines = [`root ::= ${HARMONY_ROOT}${endings.length > 0 ? ` ( ${endings.join(" | ")} )?` : ""}`];
  for (const [name, alternatives] of rules)
    lines.push(`${ruleName(name)} ::= ${writeAlternatives(alternatives)}`);
  return lines.join("\n") + "\n";
}

function ruleName(name: string): string {
  if (name === "root") return HARMONY_ROOT;
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

function writeAlternatives(alternatives: Item[][]): string {
  return alternatives.map((seq) => (seq.length === 0 ? '""' : seq.map(writeItem).join(" "))).join(" | ");
}

function writeItem(item: Item): string {
  let out = writeAtom(item.atom);
  item.quantifiers.forEach((q, i) => {
    // xgrammar takes one quantifier an element: a second one applies to the group of the first.
    if (i > 0) out = `( ${out} )`;
    out +=
      q.max === undefined
        ? q.min === 0
          ? "*"
          : q.min === 1
            ? "+"
            : `{${q.min},}`
        : q.min === 0 && q.max === 1
          ? "?"
          : q.min === q.max
            ? `{${q.min}}`
            : `{${q.min},${q.max}}`;
  });
  return out;
}

function writeAtom(atom: Atom): string {
  switch (atom.kind) {
    case "literal":
      return literal(atom.codePoints);
    case "class":
      return `[${atom.negated ? "^" : ""}${atom.ranges.map(([lo, hi]) => (lo === hi ? escape(lo) : `${escape(lo)}-${escape(hi)}`)).join("")}]`;
    case "ref":
      return ruleName(atom.name);
    case "group":
      return `( ${writeAlternatives(atom.alternatives)} )`;
    case "any":
      return `[${escape(0)}-${escape(0x10ffff)}]`;
    case "token": {
      const text = TOKEN_TEXT.get(atom.id);
      if (atom.negated) throw refuse(`"!<[${atom.id}]>" (any token but one) has no text equivalent`);
      if (text === undefined) throw refuse(`<[${atom.id}]> is not a harmony control token`);
      return literal([...text].map((c) => c.codePointAt(0) ?? 0));
    }
  }
}

function literal(codePoints: readonly number[]): string {
  return `"${codePoints.map((cp) => (cp >= 0x20 && cp < 0x7f && cp !== 0x22 && cp !== 0x5c ? String.fromCodePoint(cp) : escape(cp))).join("")}"`;
}

/** A letter or digit as itself, any other code point as a fixed-width escape (never `\x`). */
function escape(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
    return String.fromCodePoint(cp);
  }
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, "0")}` : `\\U${cp.toString(16).padStart(8, "0")}`;
}

/** llama.cpp's GBNF grammar, parsed as its grammar-parser.cpp does. */
class GbnfParser {
  readonly #src: string;
  #pos = 0;

  constructor(src: string) {
    this.#src = src;
  }

  rules(): Map<string, Item[][]> {
    const rules = new Map<string, Item[][]>();
    this.#space(true);
    while (this.#pos < this.#src.length) {
      const name = this.#name();
      this.#space(false);
      if (!this.#src.startsWith("::=", this.#pos)) throw this.#error('expected "::="');
      this.#pos += 3;
      this.#space(true);
      if (rules.has(name)) throw refuse(`rule ${name} is defined twice`);
      rules.set(name, this.#alternatives(false));
      if (this.#peek() === "\r") this.#pos++;
      if (this.#peek() === "\n") this.#pos++;
      else if (this.#pos < this.#src.length) throw this.#error("expected the end of the rule");
      this.#space(true);
    }
    return rules;
  }

  #alternatives(nested: boolean): Item[][] {
    const alternatives = [this.#sequence(nested)];
    while (this.#peek() === "|") {
      this.#pos++;
      this.#space(true);
      alternatives.push(this.#sequence(nested));
    }
    return alternatives;
  }

  #sequence(nested: boolean): Item[] {
    const items: Item[] = [];
    for (;;) {
      const c = this.#peek();
      let atom: Atom | undefined;
      if (c === '"') {
        this.#pos++;
        const codePoints: number[] = [];
        while (this.#peek() !== '"') {
          if (this.#pos >= this.#src.length) throw this.#error("unterminated string literal");
          codePoints.push(this.#char());
        }
        this.#pos++;
        atom = { kind: "literal", codePoints };
      } else if (c === "[") {
        this.#pos++;
        const negated = this.#peek() === "^";
        if (negated) this.#pos++;
        const ranges: Array<[number, number]> = [];
        while (this.#peek() !== "]") {
          if (this.#pos >= this.#src.length) throw this.#error("unterminated character class");
          const lo = this.#char();
          let hi = lo;
          if (this.#peek() === "-" && this.#src[this.#pos + 1] !== "]") {
            this.#pos++;
            hi = this.#char();
          }
          ranges.push([lo, hi]);
        }
        this.#pos++;
        atom = { kind: "class", negated, ranges };
      } else if (c !== undefined && isWordChar(c)) {
        atom = { kind: "ref", name: this.#name() };
      } else if (c === "(") {
        this.#pos++;
        this.#space(true);
        const alternatives = this.#alternatives(true);
        if (this.#peek() !== ")") throw this.#error('expected ")"');
        this.#pos++;
        atom = { kind: "group", alternatives };
      } else if (c === ".") {
        this.#pos++;
        atom = { kind: "any" };
      } else if (c === "<" || (c === "!" && this.#src[this.#pos + 1] === "<")) {
        const match = /^(!?)<\[([0-9]+)\]>/.exec(this.#src.slice(this.#pos, this.#pos + 24));
        if (match === null) throw refuse("a token reference other than <[id]>");
        this.#pos += match[0].length;
        atom = { kind: "token", id: Number(match[2]), negated: match[1] === "!" };
      } else if (c === "*" || c === "+" || c === "?" || c === "{") {
        const last = items[items.length - 1];
        if (last === undefined) throw this.#error(`"${c}" follows nothing`);
        last.quantifiers.push(this.#quantifier(nested));
        this.#space(nested);
        continue;
      } else {
        return items;
      }
      items.push({ atom, quantifiers: [] });
      this.#space(nested);
    }
  }

  #quantifier(nested: boolean): Quantifier {
    const c = this.#src[this.#pos++];
    if (c === "*") return { min: 0, max: undefined };
    if (c === "+") return { min: 1, max: undefined };
    if (c === "?") return { min: 0, max: 1 };
    this.#space(nested);
    const min = this.#integer();
    let max: number | undefined = min;
    this.#space(nested);
    if (this.#peek() === ",") {
      this.#pos++;
      this.#space(nested);
      max = /[0-9]/.test(this.#peek() ?? "") ? this.#integer() : undefined;
      this.#space(nested);
    }
    if (this.#peek() !== "}") throw this.#error('expected "}"');
    this.#pos++;
    if (max !== undefined && max < min) throw this.#error(`repetition {${min},${max}}`);
    return { min, max };
  }

  #integer(): number {
    const match = /^[0-9]+/.exec(this.#src.slice(this.#pos, this.#pos + 12));
    if (match === null) throw this.#error("expected an integer");
    this.#pos += match[0].length;
    return Number(match[0]);
  }

  #name(): string {
    const start = this.#pos;
    while (this.#pos < this.#src.length && isWordChar(this.#src[this.#pos] ?? "")) this.#pos++;
    if (this.#pos === start) throw this.#error("expected a rule name");
    return this.#src.slice(start, this.#pos);
  }

  /** One character of a literal or class: llama.cpp's parse_char escapes, else one code point. */
  #char(): number {
    const c = this.#src[this.#pos];
    if (c !== "\\") {
      const cp = this.#src.codePointAt(this.#pos) ?? 0;
      this.#pos += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const e = this.#src[this.#pos + 1];
    const hexDigits = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (hexDigits > 0) {
      const hex = this.#src.slice(this.#pos + 2, this.#pos + 2 + hexDigits);
      if (!new RegExp(`^[0-9a-fA-F]{${hexDigits}}$`).test(hex)) throw this.#error(`bad escape \\${e}${hex}`);
      this.#pos += 2 + hexDigits;
      return parseInt(hex, 16);
    }
    const simple: Readonly<Record<string, number>> = {
      t: 9,
      r: 13,
      n: 10,
      "\\": 92,
      '"': 34,
      "[": 91,
      "]": 93,
    };
    const cp = e === undefined ? undefined : simple[e];
    if (cp === undefined) throw this.#error(`unknown escape \\${e ?? ""}`);
    this.#pos += 2;
    return cp;
  }

  /** Blanks and `#` comments; newlines only where `newlines` (inside groups, between rules). */
  #space(newlines: boolean): void {
    for (;;) {
      const c = this.#peek();
      if (c === " " || c === "\t" || (newlines && (c === "\n" || c === "\r"))) this.#pos++;
      else if (c === "#") {
        while (
          this.#pos < this.#src.length &&
          this.#src[this.#pos] !== "\n" &&
          this.#src[this.#pos] !== "\r"
        ) {
          this.#pos++;
        }
      } else return;
    }
  }

  #peek(): string | undefined {
    return this.#src[this.#pos];
  }

  #error(what: string): ServerError {
    return refuse(`GBNF parse error at offset ${this.#pos}: ${what}`);
  }
}

function isWordChar(c: string): boolean {
  return /^[a-zA-Z0-9-]$/.test(c);
}
