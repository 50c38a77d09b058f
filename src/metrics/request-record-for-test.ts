/**
 * Test support (not a test file): a RequestRecord as the collector receives one, a successful
 * 20b request unless `overrides` say otherwise, each with its own request id.
 */
import type { RequestRecord } from "./request-record.ts";

let nextId = 0;

export function requestRecordForTest(overrides: Partial<RequestRecord> = {}): RequestRecord {
  nextId += 1;
  return {
    requestId: `req-${nextId}`,
    profile: "latency_first",
    model: "gpt-oss-20b",
    engine: "custom",
    stream: false,
    outcome: "success",
    status: 200,
    ttftMs: 100,
    e2eMs: 1000,
    promptTokens: 10,
    cachedTokens: 0,
    completionTokens: 20,
    reasoningTokens: 0,
    ...overrides,
  };
}
