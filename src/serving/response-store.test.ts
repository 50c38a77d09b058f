import { describe, expect, it } from "vitest";
import { FakeClockForTest } from "../metrics/fake-clock-for-test.ts";
import type { ResponseWire } from "../protocol/responses.ts";
import { ResponseStore, storedBytes, type StoredResponse } from "./response-store.ts";

function entry(id: string): StoredResponse {
  return {
    response: { id } as ResponseWire,
    conversation: [{ type: "message", role: "user", content: id }],
  };
}

function store(maxEntries: number, ttlMs: number, clock = new FakeClockForTest()): ResponseStore {
  return new ResponseStore({ maxEntries, ttlMs, now: clock.now });
}

describe("ResponseStore", () => {
  it("returns what was stored, until its TTL has passed", () => {
    const clock = new FakeClockForTest();
    const s = store(10, 1000, clock);
    s.set("a", entry("a"));
    clock.advance(999);
    expect(s.get("a")?.response.id).toBe("a");
    clock.advance(1);
    expect(s.get("a")).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it("the TTL counts from storing: reading does not extend it", () => {
    const clock = new FakeClockForTest();
    const s = store(10, 1000, clock);
    s.set("a", entry("a"));
    for (let i = 0; i < 3; i++) {
      clock.advance(400);
      s.get("a");
    }
    expect(s.get("a")).toBeUndefined();
  });

  it("evicts the least recently used entry beyond maxEntries; a read counts as use", () => {
    const s = store(2, 60_000);
    s.set("a", entry("a"));
    s.set("b", entry("b"));
    expect(s.get("a")).toBeDefined();
    s.set("c", entry("c"));
    expect(s.get("b")).toBeUndefined();
    expect(s.get("a")).toBeDefined();
    expect(s.get("c")).toBeDefined();
    expect(s.size).toBe(2);
  });

  it("frees expired entries on the next write, even if nobody reads them", () => {
    const clock = new FakeClockForTest();
    const s = store(100, 1000, clock);
    for (const id of ["a", "b", "c"]) s.set(id, entry(id));
    clock.advance(1000);
    s.set("d", entry("d"));
    expect(s.size).toBe(1);
  });

  it("delete reports whether a live entry was removed", () => {
    const clock = new FakeClockForTest();
    const s = store(10, 1000, clock);
    s.set("a", entry("a"));
    expect(s.delete("a")).toBe(true);
    expect(s.delete("a")).toBe(false);
    s.set("b", entry("b"));
    clock.advance(2000);
    expect(s.delete("b")).toBe(false);
  });

  it("maxEntries 0 stores nothing", () => {
    const s = store(0, 1000);
    s.set("a", entry("a"));
    expect(s.get("a")).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it("keeps the total under maxBytes, evicting the least recently used, and refuses an entry over it alone", () => {
    const big = (id: string, chars: number): StoredResponse => ({
      response: { id } as ResponseWire,
      conversation: [{ type: "message", role: "user", content: "x".repeat(chars) }],
    });
    const one = storedBytes(big("a", 1000));
    const s = new ResponseStore({ maxEntries: 100, maxBytes: one * 2 + 10, ttlMs: 1000 });
    s.set("a", big("a", 1000));
    s.set("b", big("b", 1000));
    expect(s.bytes).toBe(one * 2);
    s.get("a"); // a is now the most recently used
    s.set("c", big("c", 1000));
    expect(s.get("b")).toBeUndefined();
    expect(s.get("a")).toBeDefined();
    expect(s.bytes).toBeLessThanOrEqual(one * 2 + 10);
    expect(s.set("huge", big("huge", 10_000))).toBe(false);
    expect(s.get("huge")).toBeUndefined();
    s.delete("a");
    s.delete("c");
    expect(s.bytes).toBe(0);
  });

  it("finds output items by id while their response is stored (item_reference)", () => {
    const s = store(1, 60_000);
    const response = {
      id: "r1",
      output: [
        {
          id: "msg_1",
          type: "message",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: "hi", annotations: [], logprobs: [] }],
        },
      ],
    } as unknown as ResponseWire;
    s.set("r1", { response, conversation: [] });
    expect(s.item("msg_1")).toEqual({ type: "message", role: "assistant", content: "hi" });
    expect(s.item("msg_2")).toBeUndefined();
    s.set("r2", entry("r2"));
    expect(s.item("msg_1")).toBeUndefined();
  });
});
