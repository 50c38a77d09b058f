import { describe, expect, it } from "vitest";
import { ResponseCache } from "../serving/response-cache.ts";
import { planResponseCache } from "./response-cache-plan.ts";

const on = new ResponseCache({ enabled: true, maxBytes: 1000, ttlMs: 1000 });
const parts = { kind: "answer", prompt: [1, 2, 3] };
const keyA = { kind: "key", index: 0 } as const;
const keyB = { kind: "key", index: 1 } as const;

describe("planResponseCache", () => {
  it("is nothing at all while the cache is off", () => {
    const off = new ResponseCache({ enabled: false, maxBytes: 1000, ttlMs: 1000 });
    expect(planResponseCache(off, parts, keyA, undefined)).toBeUndefined();
  });

  it("reads and writes a deterministic request under a key of its own API key", () => {
    const a = planResponseCache(on, parts, keyA, undefined);
    expect(a).toMatchObject({ read: true });
    expect(a?.key).toMatch(/^[0-9a-f]{64}$/);
    expect(planResponseCache(on, parts, keyA, undefined)?.key).toBe(a?.key);
    expect(planResponseCache(on, parts, keyB, undefined)?.key).not.toBe(a?.key);
    expect(planResponseCache(on, parts, undefined, undefined)?.key).not.toBe(a?.key);
  });

  it("neither reads nor writes a sampled request", () => {
    expect(planResponseCache(on, undefined, keyA, undefined)).toEqual({ key: undefined, read: false });
  });

  it("reads Cache-Control: no-cache (write only) and no-store (neither), in any case and list", () => {
    expect(planResponseCache(on, parts, keyA, "No-Cache")).toMatchObject({ read: false });
    expect(planResponseCache(on, parts, keyA, "no-cache")?.key).toBeDefined();
    expect(planResponseCache(on, parts, keyA, "max-age=0, no-store")).toEqual({
      key: undefined,
      read: false,
    });
    expect(planResponseCache(on, parts, keyA, ["public", "no-store"])).toEqual({
      key: undefined,
      read: false,
    });
    expect(planResponseCache(on, parts, keyA, "max-age=60")).toMatchObject({ read: true });
  });
});
