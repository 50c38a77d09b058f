import { describe, expect, it } from "vitest";
import { SseDecoder } from "./sse-decoder.ts";

describe("SseDecoder", () => {
  it("dispatches events at blank lines, across arbitrary chunk boundaries", () => {
    const stream = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new SseDecoder();
      expect([...d.push(stream.slice(0, cut)), ...d.push(stream.slice(cut))]).toEqual([
        '{"a":1}',
        '{"b":2}',
        "[DONE]",
      ]);
    }
  });

  it("accepts CRLF and CR line ends, even with CRLF split between chunks", () => {
    const d = new SseDecoder();
    expect(d.push("data: x\r")).toEqual([]);
    expect(d.push("\n\r\ndata: y\r\r")).toEqual(["x", "y"]);
  });

  it("skips comments (keep-alives) and other fields, joins multi-line data, and keeps a colon-less space", () => {
    const d = new SseDecoder();
    expect(d.push(": keep-alive\n\nevent: message\nid: 3\ndata: one\ndata:two\n\n")).toEqual(["one\ntwo"]);
  });

  it("does not dispatch an event that is not terminated yet", () => {
    const d = new SseDecoder();
    expect(d.push("data: partial\n")).toEqual([]);
    expect(d.push("\n")).toEqual(["partial"]);
  });
});
