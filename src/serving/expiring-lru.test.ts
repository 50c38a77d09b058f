import { describe, expect, it } from "vitest";
import { FakeClockForTest } from "../metrics/fake-clock-for-test.ts";
import { ExpiringLru } from "./expiring-lru.ts";

function lru(options: { maxBytes?: number; maxEntries?: number; clock?: FakeClockForTest } = {}) {
  const removed: string[] = [];
  const map = new ExpiringLru<string>({
    ttlMs: 1000,
    sizeOf: (_key, value) => value.length,
    onRemove: (key) => removed.push(key),
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    ...(options.maxEntries !== undefined ? { maxEntries: options.maxEntries } : {}),
    ...(options.clock !== undefined ? { now: options.clock.now } : {}),
  });
  return { map, removed };
}

describe("ExpiringLru", () => {
  it("evicts the least recently used beyond the byte budget, and says so to onRemove", () => {
    const { map, removed } = lru({ maxBytes: 10 });
    map.set("a", "xxxx");
    map.set("b", "xxxx");
    map.get("a");
    map.set("c", "xxxx");
    expect(map.get("b")).toBeUndefined();
    expect(map.get("a")).toBe("xxxx");
    expect(map.bytes).toBe(8);
    expect(removed).toEqual(["b"]);
  });

  it("refuses an entry larger than the whole budget, keeping the rest", () => {
    const { map } = lru({ maxBytes: 10 });
    map.set("a", "xxxx");
    expect(map.set("big", "x".repeat(11))).toBe(false);
    expect(map.get("a")).toBe("xxxx");
    expect(map.size).toBe(1);
  });

  it("counts a replaced entry once, and frees expired ones on the next write", () => {
    const clock = new FakeClockForTest();
    const { map, removed } = lru({ clock });
    map.set("a", "xx");
    map.set("a", "xxx");
    expect(map.bytes).toBe(3);
    clock.advance(1000);
    map.set("b", "x");
    expect(map.size).toBe(1);
    expect(map.bytes).toBe(1);
    expect(removed).toEqual(["a", "a"]);
    expect(map.delete("b")).toBe(true);
    expect(map.delete("b")).toBe(false);
  });

  it("stores nothing with maxEntries 0", () => {
    const { map } = lru({ maxEntries: 0 });
    expect(map.set("a", "x")).toBe(false);
    expect(map.get("a")).toBeUndefined();
  });
});
