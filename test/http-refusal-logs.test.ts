/**
 * What the log says about refusals (issue 9 items 3 and 11): every 4xx, 404s and the refusals Node
 * makes before a request is parsed included, is one WARN line with the route, the error's code,
 * message and param, and counts as a client error (rejected), never as a 5xx or in error_rate.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapturingStreamForTest } from "../src/observability/capturing-stream-for-test.ts";
import { buildFakeApp, type FakeApp } from "./helpers/fake-app.ts";
import { rawRequest } from "./helpers/raw-http.ts";

const WARN = 40;
const stream = new CapturingStreamForTest();
let fake: FakeApp;
let port = 0;

beforeAll(async () => {
  fake = buildFakeApp({ logger: pino({ level: "info" }, stream) });
  await fake.app.listen({ port: 0, host: "127.0.0.1" });
  const address = fake.app.server.address();
  port = typeof address === "object" && address !== null ? address.port : 0;
});
afterAll(() => fake.app.close());

/** The log lines about one request, by the id the response carried. */
function linesOf(requestId: unknown): Record<string, unknown>[] {
  // Every refusal carries our id, the raw-socket ones included: it is what joins answer and log.
  expect(requestId).toMatch(/^req_/);
  return stream.lines.filter((l) => l.request_id === requestId);
}

function counts(): { rejected: number; failed: number; byCode: Record<string, number> } {
  const s = fake.stats.snapshot({ modelInfo: {} as never });
  return { rejected: s.requests_rejected, failed: s.requests_failed, byCode: s.errors_by_code };
}

describe("refusal log lines", () => {
  it("a 400 is one WARN line with route, error_code, error_message and error_param", async () => {
    const res = await fake.app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({
        model: "gpt-oss-fake",
        messages: [{ role: "user", content: "Hi" }],
        top_p: 5,
      }),
    });
    expect(res.statusCode).toBe(400);
    const error = res.json().error;
    const lines = linesOf(res.headers["x-request-id"]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: WARN,
      msg: "request rejected",
      route: "POST /v1/chat/completions",
      status: 400,
      outcome: "rejected",
      error_code: error.code,
      error_message: error.message,
      error_param: "top_p",
    });
  });

  it("a 404 is logged at WARN with the path asked for", async () => {
    const res = await fake.app.inject("/v1/nothing-here");
    expect(res.statusCode).toBe(404);
    const lines = linesOf(res.headers["x-request-id"]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: WARN,
      route: "GET /v1/nothing-here",
      status: 404,
      error_code: "not_found",
      error_message: "no route for GET /v1/nothing-here",
    });
  });

  it("a refusal before parsing (431) is a WARN line and a client error, not a 5xx", async () => {
    const before = counts();
    const request = `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`;
    const res = await rawRequest(port, request);
    expect(res.status).toBe(431);
    const lines = linesOf(res.headers["x-request-id"]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: WARN,
      status: 431,
      outcome: "rejected",
      error_code: "headers_too_large",
      error_message: expect.stringMatching(/headers are too large \(at most 16 KiB together\)/),
    });
    const after = counts();
    expect(after.rejected).toBe(before.rejected + 1);
    expect(after.failed).toBe(before.failed);
    expect(after.byCode.headers_too_large).toBe((before.byCode.headers_too_large ?? 0) + 1);
    const metrics = (await fake.app.inject("/metrics")).body;
    expect(metrics).toMatch(/gptoss_requests_total\{[^}]*status="431"[^}]*\} 1/);
  });

  it("router refusals (a bad percent-encoding, a 101-character segment) are WARN lines too", async () => {
    for (const [target, status, code] of [
      ["/v1/responses/%ZZ", 400, "invalid_request_error"],
      [`/v1/responses/${"r".repeat(101)}`, 414, "uri_too_long"],
    ] as const) {
      const res = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(res.status, target).toBe(status);
      expect(linesOf(res.headers["x-request-id"])[0]).toMatchObject({
        level: WARN,
        status,
        error_code: code,
      });
    }
  });
});
