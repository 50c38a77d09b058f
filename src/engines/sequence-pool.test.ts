import { describe, expect, it } from "vitest";
import { commonPrefixLength, SequencePool } from "./sequence-pool.ts";

interface SlotForTest {
  name: string;
  tokens: number[];
}

function poolForTest(...cached: number[][]): { pool: SequencePool<SlotForTest>; slots: SlotForTest[] } {
  const slots = cached.map((tokens, i) => ({ name: `s${i}`, tokens }));
  return { pool: new SequencePool(slots, (slot) => slot.tokens), slots };
}

const never = new AbortController().signal;

describe("SequencePool", () => {
  it("gives the free slot with the longest common prefix", async () => {
    const { pool } = poolForTest([1, 2, 9], [1, 2, 3, 4], [7]);
    const lease = await pool.acquire([1, 2, 3, 5], 0, never);
    expect(lease.slot.name).toBe("s1");
    expect(lease.commonPrefix).toBe(3);
    expect(pool.active).toBe(1);
  });

  it("breaks ties by least recently released, keeping fresh caches", async () => {
    const { pool } = poolForTest([], []);
    const a = await pool.acquire([5], 0, never);
    const b = await pool.acquire([6], 0, never);
    pool.release(b.slot);
    pool.release(a.slot);
    // Both share no prefix with [8]: the one released first (b) is reused; a's cache survives.
    expect((await pool.acquire([8], 0, never)).slot).toBe(b.slot);
  });

  it("queues by priority then arrival, and hands released slots over", async () => {
    const { pool } = poolForTest([]);
    const held = await pool.acquire([1], 0, never);
    const order: string[] = [];
    const late = pool.acquire([1], 5, never).then(() => order.push("low priority"));
    const first = pool.acquire([1], 0, never).then((lease) => {
      order.push("first");
      pool.release(lease.slot);
    });
    const second = pool.acquire([1], 0, never).then((lease) => {
      order.push("second");
      pool.release(lease.slot);
    });
    expect(pool.waiting).toBe(3);
    pool.release(held.slot);
    await Promise.all([late, first, second]);
    expect(order).toEqual(["first", "second", "low priority"]);
  });

  it("drops a waiter whose signal aborts, rejecting with the signal's reason", async () => {
    const { pool } = poolForTest([]);
    const held = await pool.acquire([1], 0, never);
    const controller = new AbortController();
    const waiting = pool.acquire([1], 0, controller.signal);
    controller.abort(new Error("client left"));
    await expect(waiting).rejects.toThrow("client left");
    expect(pool.waiting).toBe(0);
    pool.release(held.slot);
    expect(pool.active).toBe(0);
  });

  it("rejects waiters and new requests once closed", async () => {
    const { pool } = poolForTest([]);
    await pool.acquire([1], 0, never);
    const waiting = pool.acquire([1], 0, never);
    pool.close();
    await expect(waiting).rejects.toMatchObject({ code: "shutting_down" });
    await expect(pool.acquire([1], 0, never)).rejects.toMatchObject({ code: "shutting_down" });
  });

  it("ignores a release of a slot that is not leased", async () => {
    const { pool } = poolForTest([]);
    const lease = await pool.acquire([1], 0, never);
    pool.release(lease.slot);
    pool.release(lease.slot);
    expect(pool.active).toBe(0);
    await pool.acquire([1], 0, never);
    expect(pool.active).toBe(1);
  });
});

describe("commonPrefixLength", () => {
  it("counts leading equal tokens", () => {
    expect(commonPrefixLength([1, 2, 3], [1, 2, 4])).toBe(2);
    expect(commonPrefixLength([], [1])).toBe(0);
    expect(commonPrefixLength([1, 2], [1, 2, 3])).toBe(2);
  });
});

describe("SequencePool with compact placement (native engine)", () => {
  function compactPool(...cached: number[][]): { pool: SequencePool<SlotForTest>; slots: SlotForTest[] } {
    const slots = cached.map((tokens, i) => ({ name: `s${i}`, tokens }));
    return { pool: new SequencePool(slots, (slot) => slot.tokens, { compactWithin: 4 }), slots };
  }

  it("fills the lowest free slot when prefixes are about equal, keeping busy slots together", async () => {
    const system = [1, 2, 3];
    const { pool } = compactPool([...system, 10], [...system, 11], [...system, 12], [...system, 13]);
    const a = await pool.acquire([...system, 20], 0, never);
    const b = await pool.acquire([...system, 21], 0, never);
    expect([a.slot.name, b.slot.name]).toEqual(["s0", "s1"]);
    pool.release(a.slot);
    // LRU would pick s2 or s3 (never used); compact placement refills the hole at s0.
    const c = await pool.acquire([...system, 22], 0, never);
    expect(c.slot.name).toBe("s0");
    expect(c.commonPrefix).toBe(3);
  });

  it("takes a slot never used before one that would lose more cached tokens than the margin", async () => {
    const warmed = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const { pool, slots } = compactPool(warmed, [1, 2, 30], [], []);
    // Shares 2 tokens with s0 and s1: s0 would lose 8 (more than 4), so it is passed over; of the
    // rest (s1 loses 1, s2 and s3 nothing) the wall end of the free stretch starts the run.
    const a = await pool.acquire([1, 2, 40], 0, never);
    expect(a.slot.name).toBe("s3");
    // Beside it, not the lower s1: the run grows without a gap.
    const b = await pool.acquire([1, 2, 50], 0, never);
    expect(b.slot.name).toBe("s2");
    // The warmed prefix's own request still goes to it.
    const c = await pool.acquire([...warmed, 60], 0, never);
    expect(c.slot.name).toBe("s0");
    expect(c.commonPrefix).toBe(10);
    // Every slot used (the test's slots cache only what they are given): by rank alone again.
    slots[2]!.tokens = [1, 2, 50, 5, 5, 5, 5, 5, 5, 5];
    slots[3]!.tokens = [5, 5, 5, 5, 5, 5, 5, 5];
    pool.release(a.slot);
    pool.release(b.slot);
    pool.release(c.slot);
    const d = await pool.acquire([7, 7], 0, never);
    const e = await pool.acquire([8, 8], 0, never);
    expect([d.slot.name, e.slot.name]).toEqual(["s0", "s1"]);
  });

  it("still takes a slot whose cached prefix is longer by more than the margin", async () => {
    const history = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const { pool } = compactPool([1, 2], [1, 2], [...history, 99]);
    const lease = await pool.acquire([...history, 11], 0, never);
    expect(lease.slot.name).toBe("s2");
    expect(lease.commonPrefix).toBe(10);
  });
});

describe("SequencePool.lease (the engines' acquire)", () => {
  it("reuses at most all but the last prompt token", async () => {
    const { pool } = poolForTest([1, 2, 3, 4]);
    expect(await pool.lease([1, 2, 3, 4], 0, never)).toMatchObject({ slot: { name: "s0" }, reuse: 3 });
  });

  it("is undefined and holds nothing when the request is aborted before or while it waits", async () => {
    const { pool } = poolForTest([]);
    const before = new AbortController();
    before.abort();
    expect(await pool.lease([1], 0, before.signal)).toBeUndefined();
    expect(pool.active).toBe(0);

    const held = await pool.lease([1], 0, never);
    const waiting = new AbortController();
    const queued = pool.lease([2], 0, waiting.signal);
    waiting.abort();
    expect(await queued).toBeUndefined();
    pool.release(held!.slot);
    expect(pool.active).toBe(0);
    expect(pool.waiting).toBe(0);
  });
});
