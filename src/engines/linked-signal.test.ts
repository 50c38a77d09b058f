import { describe, expect, it } from "vitest";
import { linkSignals } from "./linked-signal.ts";

describe("linkSignals", () => {
  it("aborts when either signal aborts, with its reason", () => {
    const a = new AbortController();
    const b = new AbortController();
    const link = linkSignals(a.signal, b.signal);
    expect(link.signal.aborted).toBe(false);
    b.abort("closing");
    expect(link.signal.aborted).toBe(true);
    expect(link.signal.reason).toBe("closing");
  });

  it("is already aborted when a parent is", () => {
    const a = new AbortController();
    a.abort("gone");
    expect(linkSignals(a.signal, new AbortController().signal).signal.reason).toBe("gone");
  });

  it("after dispose, the parents no longer reach it (no listeners left behind)", () => {
    const a = new AbortController();
    const b = new AbortController();
    const link = linkSignals(a.signal, b.signal);
    link.dispose();
    b.abort();
    expect(link.signal.aborted).toBe(false);
  });
});
