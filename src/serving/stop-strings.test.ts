import { describe, expect, it } from "vitest";
import { StopStringMatcher } from "./stop-strings.ts";

function run(stops: string[], deltas: string[]): { text: string; stopped: boolean } {
  const m = new StopStringMatcher(stops);
  let text = "";
  let stopped = false;
  for (const d of deltas) {
    const r = m.push(d);
    text += r.emit;
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) text += m.flush();
  return { text, stopped };
}

describe("StopStringMatcher", () => {
  it("passes text through when there are no stop strings", () => {
    expect(run([], ["a", "bc"])).toEqual({ text: "abc", stopped: false });
  });
  it("cuts at a stop string inside one delta", () => {
    expect(run(["END"], ["hello END world"])).toEqual({ text: "hello ", stopped: true });
  });
  it("never streams a stop string split across deltas", () => {
    const m = new StopStringMatcher(["STOP"]);
    expect(m.push("abc ST").emit).toBe("abc ");
    expect(m.push("O").emit).toBe("");
    expect(m.push("P tail")).toEqual({ emit: "", stopped: true });
  });
  it("releases held-back text when the prefix turns out not to be a stop", () => {
    expect(run(["STOP"], ["ST", "ART"])).toEqual({ text: "START", stopped: false });
  });
  it("picks the earliest of several stop strings", () => {
    expect(run(["b", "a"], ["xxab"])).toEqual({ text: "xx", stopped: true });
  });
});
