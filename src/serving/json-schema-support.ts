/**
 * The JSON Schema subset this server can enforce with a grammar (json-schema-gbnf.ts), checked once
 * where requests are parsed. A keyword outside the subset is a 400 naming it and its path, never
 * silently dropped: a client that asks for `minimum` must not get a number below it.
 *
 * Supported (enforced exactly, or by a subset of the documents the schema allows, see below):
 *   type (one name or a list), enum, const, anyOf, oneOf (as anyOf), allOf (merged,
 *   json-schema-all-of.ts), nullable (OpenAPI style), properties, required, additionalProperties
 *   (false, true or a schema), propertyNames, items (one schema or false), prefixItems, minItems, maxItems, minimum,
 *   maximum, exclusiveMinimum, exclusiveMaximum (json-schema-numbers.ts), minLength, maxLength,
 *   pattern (a regular subset, json-schema-pattern.ts), format (json-schema-strings.ts),
 *   $ref to "#" or "#/$defs/NAME" / "#/definitions/NAME" (recursion allowed), $defs, definitions.
 * Ignored because they constrain nothing: title, description, $schema, $id, $comment, examples,
 *   default, deprecated, readOnly, writeOnly, and any "x-…" extension.
 *
 * Limits (SCHEMA_LIMITS, docs/security.md): a schema is checked, compiled to a grammar and rendered
 * on the request's path, so its size must bound that work. Nesting depth, schema count, enum size
 * and array bounds (a grammar spells out every counted item) are capped, a type may be listed once,
 * and a `$ref` that reaches itself before any "{" or "[" is refused (its grammar rule would be
 * left-recursive: llama.cpp rejects it, and nothing could ever be generated).
 *
 * Subset rules: properties come in schema order; when `properties` is given, other keys are not
 * generated (valid under any additionalProperties); integers have no fraction or exponent and at
 * most 15 digits; numbers at most 15 integer and 15 fraction digits and a 2-digit exponent (none
 * when bounded); strings never contain a literal "<|" (harmony's control-token prefix; JSON escapes
 * it as "\u003c|"). A schema without `type` whose keywords belong to one type (pattern, minimum,
 * ...) generates values of that type.
 */
import { ServerError } from "../errors/server-error.ts";
import { mergeAllOf } from "./json-schema-all-of.ts";
import { isEmpty, readBounds } from "./json-schema-numbers.ts";
import { stringProblem } from "./json-schema-strings.ts";

export const SCHEMA_KEYWORDS: ReadonlySet<string> = new Set([
  "type",
  "enum",
  "const",
  "anyOf",
  "oneOf",
  "allOf",
  "nullable",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "format",
  "$ref",
  "$defs",
  "definitions",
]);

export const SCHEMA_ANNOTATIONS: ReadonlySet<string> = new Set([
  "title",
  "description",
  "$schema",
  "$id",
  "$comment",
  "examples",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
]);

export const SCHEMA_TYPES: ReadonlySet<string> = new Set([
  "object",
  "array",
  "string",
  "number",
  "integer",
  "boolean",
  "null",
]);

/** Keywords that apply to one type only: a schema without `type` that uses them generates that type. */
const TYPE_KEYWORDS: Readonly<Record<string, string>> = {
  pattern: "string",
  format: "string",
  minLength: "string",
  maxLength: "string",
  minimum: "number",
  maximum: "number",
  exclusiveMinimum: "number",
  exclusiveMaximum: "number",
  items: "array",
  prefixItems: "array",
  minItems: "array",
  maxItems: "array",
};

/** The one type a schema without `type` constrains through its keywords, or undefined. */
export function impliedType(schema: JsonSchemaObject): string | undefined {
  const implied = new Set(Object.keys(schema).flatMap((k) => TYPE_KEYWORDS[k] ?? []));
  return implied.size === 1 ? [...implied][0] : undefined;
}

export const SCHEMA_LIMITS = {
  /** Schema objects nested in one another (properties, items, anyOf, $defs, ...). */
  depth: 64,
  /** Schema objects in one schema. */
  schemas: 10_000,
  /** Values in one enum. */
  enumValues: 1_000,
  /** minItems and maxItems. */
  arrayBound: 1_024,
  /** minLength and maxLength (a counted repetition is spelled out too). */
  stringBound: 10_000,
} as const;

export interface SchemaProblem {
  /** Dotted path of the schema object holding the keyword, e.g. `schema.properties.age`. */
  path: string;
  keyword: string;
  detail: string;
}

export type JsonSchemaObject = Readonly<Record<string, unknown>>;

export function isSchemaObject(value: unknown): value is JsonSchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `#`, `#/$defs/NAME` or `#/definitions/NAME` → [container, name]; "#" → ["", ""]. */
export function parseLocalRef(ref: string): [string, string] | undefined {
  if (ref === "#") return ["", ""];
  const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  if (m === null) return undefined;
  try {
    return [m[1] ?? "", decodeURIComponent(m[2] ?? "")];
  } catch {
    return undefined; // a malformed escape such as %ZZ: not a reference
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Every problem in `schema`, in document order. `root` resolves `$ref`s. */
export function findSchemaProblems(schema: unknown, path = "schema"): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const root = schema;
  const add = (p: string, keyword: string, detail: string): void => {
    problems.push({ path: p, keyword, detail });
  };
  const refs = new Set<string>();
  let schemas = 0;
  let depth = 0;
  const visit = (node: unknown, p: string): void => {
    if (node === true) return;
    if (!isSchemaObject(node)) {
      add(p, "(schema)", "a schema must be an object or true");
      return;
    }
    if (depth >= SCHEMA_LIMITS.depth) {
      add(p, "(schema)", `nested deeper than ${SCHEMA_LIMITS.depth} levels`);
      return;
    }
    if (++schemas > SCHEMA_LIMITS.schemas) {
      if (schemas === SCHEMA_LIMITS.schemas + 1)
        add(p, "(schema)", `more than ${SCHEMA_LIMITS.schemas} schemas`);
      return;
    }
    depth += 1;
    try {
      visitKeywords(node, p);
    } finally {
      depth -= 1;
    }
  };
  const visitKeywords = (node: JsonSchemaObject, p: string): void => {
    for (const [key, value] of Object.entries(node)) {
      if (SCHEMA_ANNOTATIONS.has(key) || key.startsWith("x-")) continue;
      if (!SCHEMA_KEYWORDS.has(key)) {
        add(p, key, "not supported");
        continue;
      }
      checkKeyword(key, value, node, `${p}`);
    }
    checkTogether(node, p);
  };
  /** What a node's keywords mean together: strings' one constraint, numbers' non-empty range. */
  const checkTogether = (node: JsonSchemaObject, p: string): void => {
    const stringy = ["pattern", "format", "minLength", "maxLength"].some(
      (k) => typeof node[k] === "string" || isCount(node[k]),
    );
    const problem = stringy ? stringProblem(node) : undefined;
    if (problem !== undefined) add(p, typeof node["pattern"] === "string" ? "pattern" : "format", problem);
    const type = node["type"] ?? impliedType(node);
    for (const t of Array.isArray(type) ? type : [type]) {
      if (t !== "integer" && t !== "number") continue;
      const bounds = readBounds(node, t === "integer");
      if (bounds !== undefined && isEmpty(bounds)) add(p, "minimum", `no ${t} lies within the bounds`);
    }
  };
  const checkKeyword = (key: string, value: unknown, node: JsonSchemaObject, p: string): void => {
    switch (key) {
      case "type": {
        const types = Array.isArray(value) ? value : [value];
        if (types.length === 0 || !types.every((t) => typeof t === "string" && SCHEMA_TYPES.has(t))) {
          add(p, key, `must be one of ${[...SCHEMA_TYPES].join(", ")} or a list of them`);
        } else if (new Set(types).size !== types.length) {
          add(p, key, "lists a type twice");
        }
        return;
      }
      case "enum":
        if (!Array.isArray(value) || value.length === 0) add(p, key, "must be a non-empty array");
        else if (value.length > SCHEMA_LIMITS.enumValues) {
          add(p, key, `has more than ${SCHEMA_LIMITS.enumValues} values`);
        }
        return;
      case "anyOf":
      case "oneOf":
      case "allOf":
        if (!Array.isArray(value) || value.length === 0) add(p, key, "must be a non-empty array");
        else {
          value.forEach((v, i) => visit(v, `${p}.${key}.${i}`));
          const merged = key === "allOf" ? mergeAllOf(node) : undefined;
          if (typeof merged === "string") add(p, key, merged);
        }
        return;
      case "propertyNames":
        visit(value, `${p}.propertyNames`);
        return;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        if (typeof value !== "number" && !(key.startsWith("exclusive") && typeof value === "boolean")) {
          add(p, key, "must be a number");
        }
        return;
      case "minLength":
      case "maxLength":
        if (!isCount(value)) add(p, key, "must be a non-negative integer");
        else if (value > SCHEMA_LIMITS.stringBound) {
          add(
            p,
            key,
            `must be at most ${SCHEMA_LIMITS.stringBound} (the grammar spells out each counted character)`,
          );
        } else if (key === "maxLength" && isCount(node["minLength"]) && value < node["minLength"]) {
          add(p, key, "is below minLength");
        }
        return;
      case "pattern":
      case "format":
        if (typeof value !== "string") add(p, key, "must be a string");
        return;
      case "properties":
      case "$defs":
      case "definitions":
        if (!isSchemaObject(value)) add(p, key, "must be an object of schemas");
        else for (const [name, v] of Object.entries(value)) visit(v, `${p}.${key}.${name}`);
        return;
      case "required":
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
          add(p, key, "must be an array of property names");
        }
        return;
      case "additionalProperties":
        if (typeof value !== "boolean") visit(value, `${p}.additionalProperties`);
        return;
      case "items":
        if (Array.isArray(value))
          add(p, key, "tuple form (an array of schemas) is not supported: use prefixItems");
        else if (value !== false) visit(value, `${p}.items`); // false: no items (beyond prefixItems)
        return;
      case "prefixItems":
        if (!Array.isArray(value) || value.length === 0) add(p, key, "must be a non-empty array of schemas");
        else if (value.length > SCHEMA_LIMITS.arrayBound) {
          add(p, key, `must hold at most ${SCHEMA_LIMITS.arrayBound} schemas`);
        } else value.forEach((v: unknown, i) => visit(v, `${p}.prefixItems.${i}`));
        return;
      case "minItems":
      case "maxItems":
        if (!isCount(value)) add(p, key, "must be a non-negative integer");
        else if (value > SCHEMA_LIMITS.arrayBound) {
          add(
            p,
            key,
            `must be at most ${SCHEMA_LIMITS.arrayBound} (the grammar spells out each counted item)`,
          );
        } else if (key === "maxItems" && isCount(node["minItems"]) && value < node["minItems"]) {
          add(p, key, "is below minItems");
        }
        return;
      case "nullable":
        if (typeof value !== "boolean") add(p, key, "must be a boolean");
        return;
      case "$ref": {
        const ref = typeof value === "string" ? parseLocalRef(value) : undefined;
        if (ref === undefined) add(p, key, "only local references (#/$defs/NAME, #/definitions/NAME) work");
        else if (ref[0] !== "" && resolveRef(root, value as string) === undefined) {
          add(p, key, `'${String(value)}' points at nothing`);
        } else refs.add(value as string);
        return;
      }
      default:
        return; // const: any JSON value
    }
  };
  visit(schema, path);
  const cycle = problems.length === 0 ? leftRecursiveRef(root, refs) : undefined;
  if (cycle !== undefined) {
    add(
      path,
      "$ref",
      `'${cycle}' refers back to itself before any object or array: no JSON text can match it`,
    );
  }
  return problems;
}

/**
 * The refs a schema's grammar rule starts with (mirrors SchemaCompiler#expr: `$ref` wins over every
 * other keyword, `anyOf` branches take their siblings' keywords). Objects and arrays start with "{"
 * or "[", so what they contain is never at the start.
 */
function leadingRefs(node: unknown): string[] {
  if (!isSchemaObject(node)) return [];
  const ref = node["$ref"];
  if (typeof ref === "string") return [ref];
  if (Array.isArray(node["enum"]) || "const" in node) return [];
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const branches = node[key];
    if (!Array.isArray(branches)) continue;
    const { [key]: _drop, ...rest } = node;
    return branches.flatMap((branch) => (isSchemaObject(branch) ? leadingRefs({ ...rest, ...branch }) : []));
  }
  return [];
}

/**
 * A `$ref` that can reach itself through leading refs alone, or undefined. Iterative: a chain of
 * thousands of $defs must not overflow the stack.
 */
function leftRecursiveRef(root: unknown, refs: ReadonlySet<string>): string | undefined {
  const state = new Map<string, "open" | "done">();
  for (const start of refs) {
    if (state.has(start)) continue;
    state.set(start, "open");
    const stack = [{ ref: start, next: leadingRefs(resolveRef(root, start)), i: 0 }];
    for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
      const ref = top.next[top.i++];
      if (ref === undefined) {
        state.set(top.ref, "done");
        stack.pop();
      } else if (state.get(ref) === "open") {
        return ref;
      } else if (!state.has(ref)) {
        state.set(ref, "open");
        stack.push({ ref, next: leadingRefs(resolveRef(root, ref)), i: 0 });
      }
    }
  }
  return undefined;
}

/** The schema a local `$ref` points at, or undefined. */
export function resolveRef(root: unknown, ref: string): unknown {
  const parsed = parseLocalRef(ref);
  if (parsed === undefined) return undefined;
  if (parsed[0] === "") return root;
  if (!isSchemaObject(root)) return undefined;
  const defs = root[parsed[0]];
  if (!isSchemaObject(defs) || !Object.hasOwn(defs, parsed[1])) return undefined;
  return defs[parsed[1]];
}

/** Throws a 400 `invalid_value` naming every unsupported keyword and its path. */
export function assertSupportedSchema(schema: unknown, path: string): void {
  const problems = findSchemaProblems(schema, path);
  if (problems.length === 0) return;
  // The first few: a hostile schema can hold thousands, and the error must stay readable.
  const shown = problems.slice(0, 10).map((p) => `'${p.keyword}' at ${p.path} (${p.detail})`);
  if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
  const list = shown.join("; ");
  throw new ServerError(
    "invalid_value",
    `JSON Schema keyword(s) this server cannot enforce: ${list}. ` +
      `Supported: ${[...SCHEMA_KEYWORDS].join(", ")} (annotations such as description are ignored).`,
    { param: problems[0]?.path ?? path },
  );
}
