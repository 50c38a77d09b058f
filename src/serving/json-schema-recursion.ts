/**
 * Which `$ref`s of a schema lead into recursion: those on a cycle of references, and those that
 * reach one. The grammar (json-schema-gbnf.ts) expands these at most MAX_REF_DEPTH deep, so a noisy
 * model cannot nest a recursive schema forever; every other ref is compiled once.
 */
import { isSchemaObject, resolveRef } from "./json-schema-support.ts";

/** How many recursive `$ref` expansions one path through a document may hold. */
export const MAX_REF_DEPTH = 8;

/** Keywords whose values are data, not schemas: a `$ref` key inside them is not a reference. */
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples"]);

/** The `$ref` strings written inside `schema`, not following them. */
function refsIn(schema: unknown): Set<string> {
  const found = new Set<string>();
  const stack: unknown[] = [schema];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (Array.isArray(next)) stack.push(...(next as unknown[]));
    else if (isSchemaObject(next)) {
      for (const [key, value] of Object.entries(next)) {
        if (key === "$ref" && typeof value === "string") found.add(value);
        else if (!DATA_KEYWORDS.has(key) && typeof value === "object" && value !== null) stack.push(value);
      }
    }
  }
  return found;
}

/**
 * The refs reachable from `root` that lie on a cycle or reach one. The others are peeled off as
 * sinks (a ref whose references are all peeled reaches no cycle): iterative, so a chain of
 * thousands of refs costs no stack.
 */
export function recursiveRefs(root: unknown): Set<string> {
  const edges = new Map<string, Set<string>>();
  const todo = [...refsIn(root)];
  for (let ref = todo.pop(); ref !== undefined; ref = todo.pop()) {
    if (edges.has(ref)) continue;
    const out = refsIn(resolveRef(root, ref));
    edges.set(ref, out);
    for (const r of out) if (!edges.has(r)) todo.push(r);
  }
  const callers = new Map<string, string[]>();
  const pending = new Map<string, number>();
  for (const [ref, out] of edges) {
    pending.set(ref, out.size);
    for (const r of out) {
      const list = callers.get(r);
      if (list === undefined) callers.set(r, [ref]);
      else list.push(ref);
    }
  }
  const sinks = [...pending].filter(([, n]) => n === 0).map(([ref]) => ref);
  for (let ref = sinks.pop(); ref !== undefined; ref = sinks.pop()) {
    pending.delete(ref);
    for (const caller of callers.get(ref) ?? []) {
      const left = (pending.get(caller) ?? 0) - 1;
      pending.set(caller, left);
      if (left === 0) sinks.push(caller);
    }
  }
  return new Set(pending.keys());
}
