/**
 * A pattern narrowed to a length range: `minLength`/`maxLength` beside a `pattern` or `format`
 * (zod's `z.email().max(100)`, `z.string().regex(…).min(3)`). A grammar cannot intersect the two in
 * general, but it need not: the result matches only strings that match the pattern AND fit the
 * bounds (a subset of them, as the formats' own patterns are), which is what enforcing a schema
 * means. Repetitions' minimums are raised until every string is long enough, then their maximums
 * cut until none is too long; the caller checks the result's range, so a heuristic choice can only
 * make the subset smaller, never let a wrong length through. Lengths count code points, one per
 * character of a pattern node (JSON Schema counts code points).
 */
import type { PatternNode } from "./json-schema-pattern.ts";

/** The shortest and longest string a node matches (Infinity when unbounded). */
export function lengthRange(node: PatternNode): [number, number] {
  switch (node.kind) {
    case "chars":
      return [1, 1];
    case "seq":
      return node.items.reduce<[number, number]>(
        ([lo, hi], item) => {
          const [a, b] = lengthRange(item);
          return [lo + a, hi + b];
        },
        [0, 0],
      );
    case "alt": {
      const ranges = node.branches.map(lengthRange);
      return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
    }
    case "repeat": {
      const [a, b] = lengthRange(node.node);
      const hi = b === 0 || node.max === 0 ? 0 : node.max === undefined ? Infinity : node.max * b;
      return [node.min * a, hi];
    }
  }
}

/** `node` with every string at least `need` long, or undefined. */
function raise(node: PatternNode, need: number): PatternNode | undefined {
  const [lo, hi] = lengthRange(node);
  if (lo >= need) return node;
  if (hi < need) return undefined;
  switch (node.kind) {
    case "chars":
      return undefined;
    case "alt": {
      const branches = node.branches.flatMap((b) => raise(b, need) ?? []);
      return branches.length === 0 ? undefined : { kind: "alt", branches };
    }
    case "seq": {
      let deficit = need - lo;
      const items = node.items.map((item) => {
        if (deficit <= 0) return item;
        const [a, b] = lengthRange(item);
        const raised = raise(item, Math.min(b, a + deficit));
        if (raised === undefined) return item;
        deficit -= lengthRange(raised)[0] - a;
        return raised;
      });
      return deficit > 0 ? undefined : { kind: "seq", items };
    }
    case "repeat": {
      const child = raise(node.node, 1);
      if (child === undefined) return undefined;
      const unit = lengthRange(child)[0];
      const count = Math.max(node.min, Math.ceil(need / unit));
      if (node.max === undefined || count <= node.max) return { ...node, node: child, min: count };
      // Every repetition present and each one longer.
      const longer = raise(child, Math.ceil(need / node.max));
      return longer === undefined ? undefined : { ...node, node: longer, min: node.max };
    }
  }
}

/** `node` with no string longer than `budget` (its shortest kept), or undefined. */
function cap(node: PatternNode, budget: number): PatternNode | undefined {
  const [lo, hi] = lengthRange(node);
  if (hi <= budget) return node;
  if (lo > budget) return undefined;
  switch (node.kind) {
    case "chars":
      return undefined;
    case "alt": {
      const branches = node.branches.flatMap((b) => cap(b, budget) ?? []);
      return branches.length === 0 ? undefined : { kind: "alt", branches };
    }
    case "seq": {
      // The slack above the items' minimums, shared out evenly; the least variable items first, so
      // what they leave goes to the others.
      let slack = budget - lo;
      const ranges = node.items.map(lengthRange);
      const order = node.items.map((_, i) => i).sort((x, y) => spread(ranges[x]) - spread(ranges[y]));
      const items = [...node.items];
      for (const [done, i] of order.entries()) {
        const [a] = ranges[i] ?? [0, 0];
        const give = Math.floor(slack / (order.length - done));
        const capped = cap(items[i] ?? node, a + give);
        if (capped === undefined) return undefined;
        items[i] = capped;
        slack -= lengthRange(capped)[1] - a;
      }
      return { kind: "seq", items };
    }
    case "repeat": {
      const [a, b] = lengthRange(node.node);
      // A fixed-length part (a character class): as many as fit. A variable one (a domain label):
      // fewer, each about 8 characters or more, so common words still fit.
      const fit = Math.floor(budget / Math.max(a, 1));
      const wanted = a === b ? fit : Math.min(fit, Math.max(1, Math.floor(budget / 8)));
      const count = Math.max(node.min, Math.min(node.max ?? Infinity, wanted));
      if (count === 0) return { ...node, max: 0 };
      const child = cap(node.node, Math.floor(budget / count));
      return child === undefined ? undefined : { ...node, node: child, max: count };
    }
  }
}

function spread(range: [number, number] | undefined): number {
  return range === undefined ? 0 : range[1] - range[0];
}

/** `node` narrowed to strings of `min` to `max` code points, or undefined when none fits. */
export function fitLength(node: PatternNode, min: number, max: number | undefined): PatternNode | undefined {
  const raised = raise(node, min);
  const fitted = raised === undefined ? undefined : max === undefined ? raised : cap(raised, max);
  if (fitted === undefined) return undefined;
  const [lo, hi] = lengthRange(fitted);
  return lo >= min && hi <= (max ?? Infinity) ? fitted : undefined;
}
