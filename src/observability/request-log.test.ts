import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { RequestRecord } from "../metrics/request-record.ts";
import { CapturingStreamForTest } from "./capturing-stream-for-test.ts";
import { logRequestFinished } from "./request-log.ts";

const RECORD: RequestRecord = {
  requestId: "chatcmpl-1",
  profile: "balanced",
  model: "gpt-oss-20b",
  engine: "custom",
  stream: false,
  outcome: "success",
  status: 200,
  ttftMs: 120,
  e2eMs: 2400,
  promptTokens: 50,
  cachedTokens: 32,
  completionTokens: 80,
  reasoningTokens: 20,
};

function capture(): { stream: CapturingStreamForTest; logger: pino.Logger } {
  const stream = new CapturingStreamForTest();
  return { stream, logger: pino({ level: "info" }, stream) };
}

describe("logRequestFinished", () => {
  it("logs one info line with the request's id, profile, model, status, timings and tokens", () => {
    const { stream, logger } = capture();
    logRequestFinished(logger, RECORD);
    expect(stream.lines).toHaveLength(1);
    expect(stream.lines[0]).toMatchObject({
      level: 30,
      msg: "request finished",
      request_id: "chatcmpl-1",
      profile: "balanced",
      model: "gpt-oss-20b",
      engine: "custom",
      status: 200,
      ttft_ms: 120,
      e2e_ms: 2400,
      prompt_tokens: 50,
      cached_tokens: 32,
      completion_tokens: 80,
      reasoning_tokens: 20,
    });
  });

  it("logs a failed request at error level with its code", () => {
    const { stream, logger } = capture();
    logRequestFinished(logger, { ...RECORD, outcome: "failed", status: 500, errorCode: "engine_error" });
    expect(stream.lines[0]).toMatchObject({ level: 50, error_code: "engine_error", outcome: "failed" });
  });

  it("logs a rejected request at warn and a cancelled one at info", () => {
    const { stream, logger } = capture();
    logRequestFinished(logger, { ...RECORD, outcome: "rejected", status: 400, errorCode: "invalid_json" });
    logRequestFinished(logger, { ...RECORD, outcome: "cancelled" });
    expect(stream.lines.map((line) => line.level)).toEqual([40, 30]);
    expect(stream.lines[1]).toMatchObject({ msg: "request cancelled" });
  });

  it("leaves out a TTFT that was never measured", () => {
    const { stream, logger } = capture();
    logRequestFinished(logger, { ...RECORD, outcome: "rejected", ttftMs: undefined });
    expect(stream.lines[0]).not.toHaveProperty("ttft_ms");
  });
});
