/**
 * `allOf` → one schema, when its branches merge without changing what they mean: a grammar cannot
 * intersect two rules, but the schemas generators write for intersections (zod's
 * `z.intersection(z.string(), z.string().min(2))`) are keyword-wise conjunctions. Merged: equal
 * values; `required` (union); `properties` (a name in both becomes an allOf of its two schemas);
 * `type` and `enum` (intersection); lower bounds (the largest) and upper bounds (the smallest).
 * Anything else that differs, or a `$ref` in a branch, is a problem the checker reports as a 400.
 */
import { isSchemaObject, SCHEMA_ANNOTATIONS, type JsonSchemaObject } from "./json-schema-support.ts";

const LOWER = new Set(["minimum", "exclusiveMinimum", "minLength", "minItems"]);
const UPPER = new Set(["maximum", "exclusiveMaximum", "maxLength", "maxItems"]);

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function types(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((t): t is string => typeof t === "string");
}

function mergeKey(key: string, a: unknown, b: unknown): unknown {
  if (same(a, b)) return a;
  if (LOWER.has(key) && typeof a === "number" && typeof b === "number") return Math.max(a, b);
  if (UPPER.has(key) && typeof a === "number" && typeof b === "number") return Math.min(a, b);
  switch (key) {
    case "required":
      return [...new Set([a, b].flatMap((list): unknown[] => (Array.isArray(list) ? list : [])))];
    case "properties": {
      if (!isSchemaObject(a) || !isSchemaObject(b)) break;
      const out: Record<string, unknown> = { ...a };
      for (const [name, schema] of Object.entries(b)) {
        out[name] = Object.hasOwn(a, name) ? { allOf: [a[name], schema] } : schema;
      }
      return out;
    }
    case "type": {
      // integer is a number: integer ∩ number = integer.
      const [ta, tb] = [types(a), types(b)];
      const within = (list: string[]) => (t: string) =>
        list.includes(t) || (t === "integer" && list.includes("number"));
      const both = [...new Set([...ta.filter(within(tb)), ...tb.filter(within(ta))])];
      if (both.length === 0) throw new Error("no type is in every branch");
      return both.length === 1 ? both[0] : both;
    }
    case "enum": {
      if (!Array.isArray(a) || !Array.isArray(b)) break;
      const kept = a.filter((v) => b.some((w) => same(v, w)));
      if (kept.length === 0) throw new Error("no enum value is in every branch");
      return kept;
    }
    default:
      if (SCHEMA_ANNOTATIONS.has(key)) return a;
  }
  throw new Error(`branches give '${key}' different values`);
}

/** `schema` with its allOf merged in (recursively), or a problem's detail. */
export function mergeAllOf(schema: JsonSchemaObject): JsonSchemaObject | string {
  const branches = schema["allOf"];
  if (!Array.isArray(branches)) return schema;
  const { allOf: _drop, ...rest } = schema;
  let merged: Record<string, unknown> = rest;
  try {
    for (const branch of branches) {
      if (branch === true) continue;
      if (!isSchemaObject(branch)) return "branches must be schemas";
      const flat = mergeAllOf(branch);
      if (typeof flat === "string") return flat;
      if ("$ref" in flat) return "a branch with $ref cannot be merged";
      const next: Record<string, unknown> = { ...merged };
      for (const [key, value] of Object.entries(flat)) {
        next[key] = Object.hasOwn(merged, key) ? mergeKey(key, merged[key], value) : value;
      }
      merged = next;
    }
  } catch (error) {
    return `cannot be merged into one schema: ${(error as Error).message}`;
  }
  return merged;
}
