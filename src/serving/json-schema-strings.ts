/**
 * String schemas → GBNF: `pattern` (compiled by json-schema-pattern.ts), `format` (each a pattern
 * of our own, written to be a subset of what ajv-formats accepts, with every part bounded), and
 * `minLength`/`maxLength` (counted in code points, as JSON Schema counts them).
 *
 * A pattern, else a format, else the length bounds alone. A pattern and a format together enforce
 * the pattern (in draft 2020-12 `format` is an annotation, and the pattern zod emits beside a
 * format spells that format out). A length bound beside a pattern or format narrows the pattern to
 * strings of that length (json-schema-pattern-length.ts); when no string can fit, a 400.
 */
import { fitLength } from "./json-schema-pattern-length.ts";
import { ANY_CHAR, parsePattern, type CharSet, type PatternNode } from "./json-schema-pattern.ts";

const DATE =
  "(?:(?:\\d\\d[2468][048]|\\d\\d[13579][26]|\\d\\d0[48]|[02468][048]00|[13579][26]00)-02-29|\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|(?:02)-(?:0[1-9]|1\\d|2[0-8])))";
const TIME = "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
/** Single hyphens only: no "xn--" label, which URL parsers decode as punycode and may refuse. */
const LABEL = "[A-Za-z0-9]{1,20}(?:-[A-Za-z0-9]{1,20}){0,2}";
const HOST = `(?:${LABEL}\\.){0,3}[A-Za-z][A-Za-z0-9]{0,19}(?:-[A-Za-z0-9]{1,20}){0,2}`;
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
const PCHAR = "[A-Za-z0-9\\-._~!$&'()*+,;=:@]";

/** `format` → an anchored pattern whose strings are valid under that format. */
export const FORMAT_PATTERNS: Readonly<Record<string, string>> = {
  date: `^${DATE}$`,
  time: `^${TIME}$`,
  "date-time": `^${DATE}T${TIME}$`,
  uuid: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
  email: `^[A-Za-z0-9_+-]{1,32}(?:\\.[A-Za-z0-9_+-]{1,32}){0,3}@(?:${LABEL}\\.){1,3}[A-Za-z]{2,12}$`,
  hostname: `^${HOST}$`,
  ipv4: `^(?:${OCTET}\\.){3}${OCTET}$`,
  ipv6: "^(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}$",
  uri: `^https?://${HOST}(?::[1-9]\\d{0,3})?(?:/${PCHAR}{0,64}){0,16}(?:\\?(?:${PCHAR}|[/?]){0,256})?(?:#(?:${PCHAR}|[/?]){0,256})?$`,
};

/** Code points JSON forbids raw, and "<" (a control token's first character), written escaped. */
const ESCAPED: CharSet = [
  [0x00, 0x1f],
  [0x22, 0x22],
  [0x3c, 0x3c],
  [0x5c, 0x5c],
  [0x7f, 0x7f],
];
const SURROGATES = [0xd800, 0xdfff] as const;

function classChar(cp: number): string {
  if (/[A-Za-z0-9]/.test(String.fromCodePoint(cp))) return String.fromCodePoint(cp);
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\U${cp.toString(16).padStart(8, "0")}`;
}

function escapeOf(cp: number): string {
  const short: Readonly<Record<number, string>> = { 0x22: '\\"', 0x5c: "\\\\" };
  const json = short[cp] ?? `\\u${cp.toString(16).padStart(4, "0")}`;
  return `"${json.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** GBNF for one character of `set` as written inside a JSON string. */
export function charSetGbnf(set: CharSet): string {
  const raw: string[] = [];
  const escapes: string[] = [];
  for (const [lo, hi] of set) {
    let from = lo;
    for (const [a, b] of [...ESCAPED, SURROGATES]) {
      if (b < from || a > hi) continue;
      if (a > from) raw.push(range(from, a - 1));
      if (a !== SURROGATES[0]) {
        for (let cp = Math.max(a, from); cp <= Math.min(b, hi); cp++) escapes.push(escapeOf(cp));
      }
      from = b + 1;
    }
    if (from <= hi) raw.push(range(from, hi));
  }
  const parts = [...(raw.length > 0 ? [`[${raw.join("")}]`] : []), ...escapes];
  return parts.length === 1 ? (parts[0] ?? "") : `( ${parts.join(" | ")} )`;
}

function range(lo: number, hi: number): string {
  return lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`;
}

function nodeGbnf(node: PatternNode): string {
  switch (node.kind) {
    case "chars":
      return charSetGbnf(node.set);
    case "seq":
      return node.items.length === 0 ? '""' : node.items.map(nodeGbnf).join(" ");
    case "alt":
      return `( ${node.branches.map(nodeGbnf).join(" | ")} )`;
    case "repeat": {
      const { min, max } = node;
      const q =
        max === undefined
          ? min === 0
            ? "*"
            : min === 1
              ? "+"
              : `{${min},}`
          : min === 0 && max === 1
            ? "?"
            : min === max
              ? `{${min}}`
              : `{${min},${max}}`;
      return max === 0 ? '""' : `( ${nodeGbnf(node.node)} )${q}`;
    }
  }
}

/** Rule units a compiled pattern costs: llama.cpp writes out a rule per counted repetition. */
function nodeUnits(node: PatternNode): number {
  switch (node.kind) {
    case "chars":
      return 1;
    case "seq":
      return node.items.reduce((n, item) => n + nodeUnits(item), 1);
    case "alt":
      return node.branches.reduce((n, item) => n + nodeUnits(item), 1);
    case "repeat":
      return nodeUnits(node.node) * Math.max(1, node.max ?? node.min);
  }
}

export interface CompiledPattern {
  /** GBNF for the whole JSON string, quotes included. */
  gbnf: string;
  units: number;
}

export interface LengthBounds {
  min: number;
  max: number | undefined;
}

/**
 * A pattern's grammar, or the reason it has none (a 400's detail); with `length`, only its strings
 * of that many code points.
 */
export function compilePattern(pattern: string, length?: LengthBounds): CompiledPattern | string {
  const parsed = parsePattern(pattern);
  if (!Array.isArray(parsed)) return parsed.reason;
  // A side without its anchor matches anything there (JSON Schema patterns search).
  const anything: PatternNode = {
    kind: "repeat",
    node: { kind: "chars", set: ANY_CHAR },
    min: 0,
    max: undefined,
  };
  let nodes = parsed.map((b): PatternNode =>
    b.anchoredStart && b.anchoredEnd
      ? b.node
      : {
          kind: "seq",
          items: [...(b.anchoredStart ? [] : [anything]), b.node, ...(b.anchoredEnd ? [] : [anything])],
        },
  );
  if (length !== undefined) {
    nodes = nodes.flatMap((node) => fitLength(node, length.min, length.max) ?? []);
    if (nodes.length === 0) {
      return `has no string of ${length.min} to ${length.max ?? "any number of"} characters (minLength/maxLength beside it)`;
    }
  }
  const branches = nodes.map(nodeGbnf);
  const body = branches.length === 1 ? (branches[0] ?? '""') : `( ${branches.join(" | ")} )`;
  const units = nodes.reduce((n, node) => n + nodeUnits(node), 0);
  return { gbnf: `"\\"" ${body} "\\""`, units };
}

function lengthBounds(schema: Readonly<Record<string, unknown>>): LengthBounds | undefined {
  const min = schema["minLength"];
  const max = schema["maxLength"];
  if (min === undefined && max === undefined) return undefined;
  return { min: typeof min === "number" ? min : 0, max: typeof max === "number" ? max : undefined };
}

/** Why a string schema's constraints cannot be enforced together, or undefined. */
export function stringProblem(schema: Readonly<Record<string, unknown>>): string | undefined {
  const pattern = schema["pattern"];
  const format = schema["format"];
  if (typeof pattern === "string") {
    const compiled = compilePattern(pattern, lengthBounds(schema));
    if (typeof compiled === "string") return `pattern ${JSON.stringify(pattern)} ${compiled}`;
  } else if (typeof format === "string") {
    const source = FORMAT_PATTERNS[format];
    if (source === undefined) {
      return `format '${format}' is not supported without a pattern; supported: ${Object.keys(FORMAT_PATTERNS).join(", ")}`;
    }
    const compiled = compilePattern(source, lengthBounds(schema));
    if (typeof compiled === "string") return `format '${format}' ${compiled}`;
  }
  return undefined;
}

/**
 * GBNF for a string schema, quotes included, and its rule units. `lengthChar` is the rule for one
 * code point of a length-bounded string (see json-schema-gbnf.ts); `plain` the unconstrained string.
 */
export function stringGbnf(
  schema: Readonly<Record<string, unknown>>,
  rules: { lengthChar: () => string; plain: () => string },
): CompiledPattern {
  const pattern = schema["pattern"];
  const format = schema["format"];
  const source =
    typeof pattern === "string" ? pattern : typeof format === "string" ? FORMAT_PATTERNS[format] : undefined;
  if (source !== undefined) {
    const compiled = compilePattern(source, lengthBounds(schema));
    if (typeof compiled !== "string") return compiled;
  }
  const min = typeof schema["minLength"] === "number" ? schema["minLength"] : 0;
  const max = typeof schema["maxLength"] === "number" ? schema["maxLength"] : undefined;
  if (min === 0 && max === undefined) return { gbnf: rules.plain(), units: 0 };
  const count = max === undefined ? `{${min},}` : `{${min},${max}}`;
  return { gbnf: `"\\"" ${rules.lengthChar()}${count} "\\""`, units: Math.max(min, max ?? 0) };
}
