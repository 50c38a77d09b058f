import { describe, expect, it } from "vitest";
import { RecentErrors } from "./recent-errors.ts";
import type { RequestRecord } from "./request-record.ts";
import { requestRecordForTest } from "./request-record-for-test.ts";

/** Request `i`, failed with an engine error unless `overrides` say otherwise. */
function record(i: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return requestRecordForTest({
    requestId: `req-${i}`,
    outcome: "failed",
    status: 500,
    errorCode: "engine_error",
    errorMessage: `failure ${i}`,
    ttftMs: undefined,
    e2eMs: 1,
    promptTokens: 0,
    completionTokens: 0,
    ...overrides,
  });
}

describe("RecentErrors", () => {
  it("keeps the last failed and rejected requests, newest first", () => {
    const errors = new RecentErrors(3);
    for (let i = 1; i <= 5; i += 1) errors.add(record(i), i * 1000);
    errors.add(record(6, { outcome: "success", errorCode: undefined }), 6000);
    errors.add(record(7, { outcome: "cancelled" }), 7000);
    errors.add(record(8, { outcome: "rejected", status: 404, errorCode: undefined, route: "GET /x" }), 8000);
    const list = errors.list();
    expect(list.map((e) => e.request_id)).toEqual(["req-8", "req-5", "req-4"]);
    expect(list[0]).toEqual({
      at_ms: 8000,
      request_id: "req-8",
      outcome: "rejected",
      status: 404,
      code: "http_404",
      message: "failure 8",
      model: "gpt-oss-20b",
      profile: "latency_first",
      route: "GET /x",
    });
  });

  it("cuts long messages (they may quote a client's input)", () => {
    const errors = new RecentErrors();
    errors.add(record(1, { errorMessage: "x".repeat(10_000) }), 0);
    expect(errors.list()[0]!.message.length).toBe(501);
  });
});
