import { describe, expect, it } from "vitest";
import { prettyLineFormatter } from "./pretty-lines.ts";

const pretty = prettyLineFormatter(false);

function line(fields: Record<string, unknown>): string {
  return JSON.stringify({
    level: 30,
    level_name: "INFO",
    time: "2026-12-01T12:00:01.250Z",
    pid: 1,
    hostname: "h",
    ...fields,
  });
}

describe("prettyLineFormatter", () => {
  it("writes one line: time, level, message, then the fields as key=value", () => {
    const text = pretty(
      line({
        msg: "request finished",
        request_id: "req_abc",
        route: "POST /v1/chat/completions",
        outcome: "success",
        stream: true,
        ttft_ms: 12.3456,
        completion_tokens: 20,
        client_request_id: undefined,
        error_param: null,
      }),
    );
    expect(text.endsWith("\n")).toBe(true);
    expect(text.trimEnd().split("\n")).toHaveLength(1);
    expect(text).toMatch(/^\[\d\d:\d\d:01\.250\] INFO: request finished /);
    expect(text).toContain(
      'request_id=req_abc route="POST /v1/chat/completions" outcome=success stream=true',
    );
    expect(text).toContain("ttft_ms=12.3 completion_tokens=20");
    expect(text).not.toMatch(/level_name|hostname|pid=|error_param|\{"/);
  });

  it("shows an error's message, and its stack on the lines below", () => {
    const text = pretty(
      line({
        level: 50,
        msg: "chat completion failed",
        err: { type: "Error", message: "boom", stack: "Error: boom\n    at f (x.ts:1:1)" },
      }),
    );
    expect(text).toMatch(/ERROR: chat completion failed err=boom\n {4}Error: boom\n {8}at f/);
  });

  it("keeps long values and objects short", () => {
    const text = pretty(line({ msg: "m", prompt: "x".repeat(1000), breaches: ["p95_ttft"] }));
    expect(text).toContain('breaches=["p95_ttft"]');
    expect(text.length).toBeLessThan(400);
  });
});
