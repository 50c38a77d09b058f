/**
 * JSON Schema (the subset of json-schema-support.ts) → GBNF rules that match exactly the JSON
 * texts the grammar lets a model write for it. Written here rather than taken from node-llama-cpp
 * (whose converter makes every property required, lacks anyOf, and lets a control token's
 * spelled-out text such as "<|end|>" pass as string characters) and rather than inside an engine
 * (the grammar is part of serving's harmony contract; engines only run it).
 *
 * Rule names: `j-*` shared JSON primitives, `s<n>-*` rules of one schema. Whitespace between tokens
 * is bounded (`j-ws`) so a model cannot pad forever, and so is recursion: a `$ref` that leads into
 * recursion is expanded once per depth, at most MAX_REF_DEPTH deep, the last level without the
 * recursive parts (optional properties left out, arrays empty, anyOf branches dropped).
 */
import { ServerError } from "../errors/server-error.ts";
import { mergeAllOf } from "./json-schema-all-of.ts";
import { integerRange, isEmpty, numberRange, readBounds } from "./json-schema-numbers.ts";
import { MAX_REF_DEPTH, recursiveRefs } from "./json-schema-recursion.ts";
import { stringGbnf } from "./json-schema-strings.ts";
import { impliedType, isSchemaObject, resolveRef, type JsonSchemaObject } from "./json-schema-support.ts";

/** Grammar rules (and counted items) one request's schemas may expand to. */
export const MAX_GRAMMAR_UNITS = 50_000;

/** Harmony's control tokens all spell as "<|…|>": string text never contains "<|". */
const PRIMITIVES: Readonly<Record<string, string>> = {
  "j-ws": `( " " | "\\n" [ \\t]{0,20} )?`,
  "j-esc": `"\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F]{4} )`,
  "j-char": `[^"\\\\\\x7F\\x00-\\x1F<] | "<"+ ( [^"\\\\\\x7F\\x00-\\x1F<|] | j-esc ) | j-esc`,
  "j-string": `"\\"" j-char* "<"* "\\""`,
  // Integer parts of at most 15 digits and 2-digit exponents: finite, exact JavaScript numbers
  // (json-schema-numbers.ts).
  "j-int": `"-"? ( "0" | [1-9] [0-9]{0,14} )`,
  "j-number": `j-int ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?`,
  // One code point of a length-bounded string: "<" and UTF-16 surrogate escapes are left out, so
  // that each repetition is exactly one code point (JSON Schema counts code points).
  "j-lchar": `[^"\\\\\\x7F\\x00-\\x1F<] | "\\\\" ( ["\\\\/bfnrt] | "u" ( [0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )`,
  "j-bool": `"true" | "false"`,
  "j-null": `"null"`,
  "j-value": `j-object | j-array | j-string | j-number | j-bool | j-null`,
  "j-member": `j-string j-ws ":" j-ws j-value`,
  "j-object": `"{" j-ws ( j-member ( j-ws "," j-ws j-member )* j-ws )? "}"`,
  "j-array": `"[" j-ws ( j-value ( j-ws "," j-ws j-value )* j-ws )? "]"`,
};

/** A GBNF string literal for `text` (escapes per llama.cpp's parse_char). */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * A JSON value's canonical text, with "<" written as \u003c: the same value, and a control token's
 * spelled-out text can never match a literal.
 */
export function jsonLiteral(value: unknown): string {
  return gbnfLiteral((JSON.stringify(value) ?? "null").replaceAll("<", "\\u003c"));
}

function sanitize(hint: string): string {
  const s = hint.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return s === "" ? "x" : s.slice(0, 40);
}

export class GbnfRuleSet {
  readonly #rules = new Map<string, string>();
  readonly #primitives = new Set<string>();
  #schemas = 0;
  #units = 0;

  /** Adds (or replaces) a rule. */
  set(name: string, body: string): string {
    this.#rules.set(name, body);
    return name;
  }

  /** A shared JSON primitive (`j-string`, `j-object`, …), added with what it references. */
  primitive(name: string): string {
    if (this.#primitives.has(name)) return name;
    const body = PRIMITIVES[name];
    if (body === undefined) throw new Error(`unknown GBNF primitive ${name}`);
    this.#primitives.add(name);
    for (const ref of body.match(/j-[a-z]+/g) ?? []) this.primitive(ref);
    return name;
  }

  /** Adds the rules of `schema` and returns the rule matching its JSON texts. */
  schema(schema: unknown, hint: string): string {
    const compiler = new SchemaCompiler(this, `s${this.#schemas++}`, schema);
    const rule = compiler.rule(schema, sanitize(hint));
    if (rule === undefined) throw noFiniteValue("the schema");
    compiler.compileReferences();
    return rule;
  }

  /**
   * Counts grammar work (a rule, or an item a repetition spells out) against MAX_GRAMMAR_UNITS.
   * The schema checks bound each schema's size; this bounds what anyOf's sibling merging and
   * several schemas in one request multiply it into.
   */
  charge(units: number): void {
    this.#units += units;
    if (this.#units > MAX_GRAMMAR_UNITS) {
      throw new ServerError(
        "invalid_value",
        `the request's schemas expand to a grammar of more than ${MAX_GRAMMAR_UNITS} rules; simplify them`,
        { param: "schema" },
      );
    }
  }

  /** All rules as GBNF text, primitives last. */
  text(): string {
    const lines: string[] = [];
    for (const [name, body] of this.#rules) lines.push(`${name} ::= ${body}`);
    for (const name of this.#primitives) lines.push(`${name} ::= ${PRIMITIVES[name] ?? ""}`);
    return lines.join("\n") + "\n";
  }
}

function noFiniteValue(what: string): ServerError {
  return new ServerError(
    "invalid_value",
    `${what} has no finite JSON value: every way through it recurses (a required property, item or branch refers back to it)`,
    { param: "schema" },
  );
}

/**
 * Compiles one schema. `#expr` returns undefined for a schema no JSON text may match within the
 * recursion bound; the callers leave such a part out (an optional property, an anyOf branch, the
 * items of an array that may be empty) or are themselves undefined, so the grammar never offers a
 * path that leads nowhere.
 */
class SchemaCompiler {
  readonly #rules: GbnfRuleSet;
  readonly #prefix: string;
  readonly #root: unknown;
  readonly #refs = new Map<string, string>();
  /** Referenced schemas still to compile: a queue, not recursion, so a chain of refs cannot overflow the stack. */
  readonly #pendingRefs: { name: string; ref: string; target: unknown; depth: number }[] = [];
  /** Refs on or into a cycle: expanded per depth (json-schema-recursion.ts). */
  readonly #recursive: Set<string>;
  /** Recursive expansions around the schema being compiled. */
  #depth = 0;
  /** Past the depth bound: the recursive refs being expanded inline, each at most once. */
  #leaf: Set<string> | undefined;
  #count = 0;

  constructor(rules: GbnfRuleSet, prefix: string, root: unknown) {
    this.#rules = rules;
    this.#prefix = prefix;
    this.#root = root;
    this.#recursive = recursiveRefs(root);
  }

  #name(hint: string): string {
    this.#rules.charge(1);
    return `${this.#prefix}-${hint}-${this.#count++}`;
  }

  /** A named rule for `schema`, or undefined when nothing can match it. */
  rule(schema: unknown, hint: string): string | undefined {
    const name = this.#name(hint);
    const body = this.#expr(schema, hint);
    if (body === undefined) return undefined;
    this.#rules.set(name, body);
    return name;
  }

  /** A GBNF expression for `schema` (rules for its parts are added on the way). */
  #expr(schema: unknown, hint: string): string | undefined {
    const p = (name: string): string => this.#rules.primitive(name);
    if (!isSchemaObject(schema)) return p("j-value");
    if (Array.isArray(schema["allOf"])) {
      const merged = mergeAllOf(schema);
      // The checker refused what does not merge; a schema it never saw gets any value.
      return typeof merged === "string" ? p("j-value") : this.#expr(merged, hint);
    }
    const nullable = schema["nullable"] === true;
    const withNull = (e: string | undefined): string | undefined =>
      e === undefined ? (nullable ? p("j-null") : undefined) : nullable ? `( ${e} | ${p("j-null")} )` : e;
    const alternatives = (branches: (string | undefined)[]): string | undefined => {
      const left = branches.filter((b) => b !== undefined);
      return left.length === 0 ? undefined : `( ${left.join(" | ")} )`;
    };
    const ref = schema["$ref"];
    if (typeof ref === "string") return withNull(this.#ref(ref));
    if (Array.isArray(schema["enum"])) return withNull(`( ${schema["enum"].map(jsonLiteral).join(" | ")} )`);
    if ("const" in schema) return withNull(jsonLiteral(schema["const"]));
    // oneOf as anyOf: exact when the branches are disjoint (zod's discriminatedUnion: a required
    // property with a different const in each); otherwise a document matching two branches, which
    // oneOf refuses, can be generated (docs/chat-completions.md says so).
    const union = Array.isArray(schema["anyOf"])
      ? "anyOf"
      : Array.isArray(schema["oneOf"])
        ? "oneOf"
        : undefined;
    const anyOf = union === undefined ? undefined : schema[union];
    if (union !== undefined && Array.isArray(anyOf)) {
      // Sibling keywords apply to every branch (JSON Schema's conjunction, for the common case of
      // shared annotations or a shared type).
      const { [union]: _drop, ...rest } = schema;
      const branches = anyOf.map((b, i) =>
        this.rule(isSchemaObject(b) ? { ...rest, ...b } : b, `${hint}-alt${i}`),
      );
      return withNull(alternatives(branches));
    }
    const type = schema["type"] ?? impliedType(schema);
    if (Array.isArray(type)) {
      const branches = type.map((t: unknown) =>
        this.rule({ ...schema, type: t, nullable: false }, `${hint}-${String(t)}`),
      );
      return withNull(alternatives(branches));
    }
    switch (type) {
      case "string": {
        const compiled = stringGbnf(schema, { lengthChar: () => p("j-lchar"), plain: () => p("j-string") });
        this.#rules.charge(compiled.units);
        return withNull(compiled.gbnf);
      }
      case "number":
      case "integer": {
        const bounds = readBounds(schema, type === "integer");
        if (bounds === undefined || isEmpty(bounds))
          return withNull(p(type === "integer" ? "j-int" : "j-number"));
        return withNull(type === "integer" ? integerRange(bounds.lo, bounds.hi) : numberRange(bounds));
      }
      case "boolean":
        return withNull(p("j-bool"));
      case "null":
        return p("j-null");
      case "array":
        return withNull(this.#array(schema, hint));
      case "object":
        return withNull(this.#object(schema, hint));
      default:
        // No type: an object if it describes properties, otherwise any value.
        return isSchemaObject(schema["properties"])
          ? withNull(this.#object(schema, hint))
          : withNull(p("j-value"));
    }
  }

  #ref(ref: string): string | undefined {
    const recursive = this.#recursive.has(ref);
    const depth = recursive ? this.#depth + 1 : 0;
    if (recursive && (this.#leaf !== undefined || depth >= MAX_REF_DEPTH)) return this.#leafRef(ref);
    const key = recursive ? `${ref}@${depth}` : ref;
    const known = this.#refs.get(key);
    if (known !== undefined) return known;
    const target = resolveRef(this.#root, ref);
    const name = this.#name(`${sanitize(ref.split("/").pop() ?? "ref")}${recursive ? `-d${depth}` : ""}`);
    // Registered before its target is compiled: a ref met again at this depth refers to this rule.
    this.#refs.set(key, name);
    this.#pendingRefs.push({ name, ref, target, depth });
    return name;
  }

  /**
   * The last level: `ref` expanded inline with no recursive ref expanded twice on one path, so
   * each is left out where the schema allows, or undefined. A schema with a finite value has one
   * without repeating a ref along a path (replace a repeated ref's outer value by its inner one).
   */
  #leafRef(ref: string): string | undefined {
    const outer = this.#leaf;
    const open = outer ?? new Set<string>();
    if (open.has(ref)) return undefined;
    open.add(ref);
    this.#leaf = open;
    try {
      return this.rule(resolveRef(this.#root, ref), `${sanitize(ref.split("/").pop() ?? "ref")}-last`);
    } finally {
      open.delete(ref);
      this.#leaf = outer;
    }
  }

  /** Compiles every schema a `$ref` named (and those they name). */
  compileReferences(): void {
    for (let i = 0; i < this.#pendingRefs.length; i++) {
      const next = this.#pendingRefs[i];
      if (next === undefined) continue;
      this.#depth = next.depth;
      const body = this.#expr(next.target, "ref");
      // Below the bound every recursive ref is a rule that can end, so only a schema with no
      // finite value at all gets here.
      if (body === undefined) throw noFiniteValue(`'${next.ref}'`);
      this.#rules.set(next.name, body);
    }
    this.#depth = 0;
    this.#pendingRefs.length = 0;
  }

  #array(schema: JsonSchemaObject, hint: string): string | undefined {
    const ws = this.#rules.primitive("j-ws");
    const items = schema["items"];
    const item =
      items === false
        ? undefined
        : items === undefined || items === true
          ? this.#rules.primitive("j-value")
          : this.rule(items, `${hint}-item`);
    const min = typeof schema["minItems"] === "number" ? schema["minItems"] : 0;
    const max = typeof schema["maxItems"] === "number" ? schema["maxItems"] : undefined;
    const prefix = schema["prefixItems"];
    if (Array.isArray(prefix) && prefix.length > 0) return this.#tuple(prefix, item, min, max, hint);
    if (item === undefined) return min === 0 ? `"[" ${ws} "]"` : undefined;
    // llama.cpp expands a counted repetition into a rule per counted item.
    this.#rules.charge(Math.max(min, max ?? 0));
    if (max === 0) return `"[" ${ws} "]"`;
    const more = `( ${ws} "," ${ws} ${item} )`;
    const rest =
      max === undefined ? `${more}{${Math.max(0, min - 1)},}` : `${more}{${Math.max(0, min - 1)},${max - 1}}`;
    const body = `${item} ${rest} ${ws}`;
    return min === 0 ? `"[" ${ws} ( ${body} )? "]"` : `"[" ${ws} ${body} "]"`;
  }

  /**
   * `prefixItems` (zod's z.tuple): the first items each of its own schema, in order, then `item`
   * (the `items` schema; undefined for `items: false`) for the rest, within minItems..maxItems.
   */
  #tuple(prefix: unknown[], item: string | undefined, min: number, max: number | undefined, hint: string) {
    const ws = this.#rules.primitive("j-ws");
    const slots: string[] = [];
    for (const [i, s] of prefix.slice(0, max ?? prefix.length).entries()) {
      const rule = this.rule(s, `${hint}-p${i}`);
      if (rule === undefined) break; // an item that cannot be written ends the array before it
      slots.push(rule);
    }
    if (slots.length < Math.min(min, prefix.length)) return undefined;
    // After the prefix: more items only when all prefix items are there.
    let rest = "";
    if (slots.length === prefix.length && item !== undefined && (max === undefined || max > prefix.length)) {
      const from = Math.max(0, min - prefix.length);
      const to = max === undefined ? "" : String(max - prefix.length);
      this.#rules.charge(Math.max(from, max === undefined ? 0 : max - prefix.length));
      rest = `( ${ws} "," ${ws} ${item} ){${from},${to}}`;
    } else if (min > slots.length) return undefined;
    if (slots.length === 0) return `"[" ${ws} "]"`;
    // From the last slot back: slot i, then what follows it, optional when the array may end before it.
    let tail = rest;
    for (let i = slots.length - 1; i >= 1; i--) {
      const part = `${ws} "," ${ws} ${slots[i] ?? ""} ${tail}`;
      tail = i >= min ? `( ${part} )?` : part;
    }
    const body = `${slots[0] ?? ""} ${tail}`;
    return min === 0 ? `"[" ${ws} ( ${body} ${ws} )? "]"` : `"[" ${ws} ${body} ${ws} "]"`;
  }

  #object(schema: JsonSchemaObject, hint: string): string | undefined {
    const ws = this.#rules.primitive("j-ws");
    const properties = isSchemaObject(schema["properties"]) ? schema["properties"] : {};
    const required = new Set(
      Array.isArray(schema["required"]) ? schema["required"].filter((k) => typeof k === "string") : [],
    );
    const entries: [string, unknown, boolean][] = Object.entries(properties).map(([k, v]) => [
      k,
      v,
      required.has(k),
    ]);
    const extra = schema["additionalProperties"];
    // A required key without a property schema still has to be written, with a value that
    // additionalProperties allows (zod's record over an enum of keys lists them all as required).
    const extraSchema = isSchemaObject(extra) ? extra : true;
    for (const k of required) if (!Object.hasOwn(properties, k)) entries.push([k, extraSchema, true]);
    // Each property's value rule; an optional property that cannot be written is left out.
    const members: [string, string, boolean][] = [];
    for (const [name, propSchema, isRequired] of entries) {
      const value = this.rule(propSchema, `${hint}-${sanitize(name)}`);
      if (value !== undefined) members.push([name, value, isRequired]);
      else if (isRequired) return undefined;
    }
    if (entries.length === 0) {
      if (extra === false) return `"{" ${ws} "}"`;
      const names = schema["propertyNames"];
      const anyValue = extra === undefined || extra === true;
      if (anyValue && !isSchemaObject(names)) return this.#rules.primitive("j-object");
      const value = anyValue ? this.#rules.primitive("j-value") : this.rule(extra, `${hint}-value`);
      const key = isSchemaObject(names)
        ? this.rule({ ...names, type: "string" }, `${hint}-key`)
        : this.#rules.primitive("j-string");
      if (value === undefined || key === undefined) return `"{" ${ws} "}"`;
      const member = `${key} ${ws} ":" ${ws} ${value}`;
      return `"{" ${ws} ( ${member} ( ${ws} "," ${ws} ${member} )* ${ws} )? "}"`;
    }
    // tail(i, first): the members from i on, in order, skipping optional ones; `first` says no
    // comma is due yet. Each is its own rule, so the grammar grows linearly with the properties.
    const tails = new Map<string, string | undefined>();
    const tail = (i: number, first: boolean): string | undefined => {
      const key = `${i}${first ? "f" : "c"}`;
      if (tails.has(key)) return tails.get(key);
      const entry = members[i];
      if (entry === undefined) {
        tails.set(key, undefined);
        return undefined;
      }
      const [name, value, isRequired] = entry;
      const member = `${first ? "" : `${ws} "," ${ws} `}${jsonLiteral(name)} ${ws} ":" ${ws} ${value}`;
      const after = tail(i + 1, false);
      const present = after === undefined ? member : `${member} ${after}`;
      let body = present;
      if (!isRequired) {
        const skipped = tail(i + 1, first);
        body = skipped === undefined ? `( ${present} )?` : `( ${present} ) | ${skipped}`;
      }
      const rule = this.#rules.set(this.#name(`${hint}-m${i}${first ? "f" : "c"}`), body);
      tails.set(key, rule);
      return rule;
    };
    // tail(0) matches nothing only when every property is optional: "{" ws ws "}" is then `{}`.
    return `"{" ${ws} ${tail(0, true) ?? ""} ${ws} "}"`;
  }
}
