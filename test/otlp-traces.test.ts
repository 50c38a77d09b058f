/**
 * Traces end to end: the server (composition root, fake engine) with --otlp-endpoint pointing at an
 * OTLP/HTTP receiver written here (node:http, decoding the JSON export as a collector would). A
 * request sent with a W3C traceparent becomes a SERVER span of that trace, parented to the client's
 * span, carrying the GenAI attributes and v4.5.1's tags, with `queue`, `prefill` and `decode`
 * children in order inside it. Shutdown flushes the batch.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.ts";
import { startServer, type RunningServer } from "../src/cli/serve.ts";
import { createLogger } from "../src/observability/logger.ts";

/** An OTLP/JSON attribute value (only the kinds we send). */
interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: AnyValue }[];
  status?: { code?: number; message?: string };
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: AnyValue }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

let receiver: Server;
const exports: { path: string; contentType: string | undefined; body: OtlpExport }[] = [];
let server: RunningServer;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (text += d));
    req.on("end", () => {
      exports.push({
        path: req.url ?? "",
        contentType: req.headers["content-type"],
        body: JSON.parse(text) as OtlpExport,
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const config = loadConfig({
    flags: {
      engine: "fake",
      engineProcess: "inline",
      port: 0,
      fakeTokenDelayMs: 5,
      otlpEndpoint: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    },
    env: {},
  });
  server = await startServer(config, createLogger({ level: "silent" }));
  await server.ready;
});

afterAll(async () => {
  await server.shutdown("test");
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

function value(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(value);
  return undefined;
}

function attrs(span: OtlpSpan): Record<string, unknown> {
  return Object.fromEntries(span.attributes.map((a) => [a.key, value(a.value)]));
}

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

describe("OpenTelemetry traces (--otlp-endpoint)", () => {
  it("export a request span with queue, prefill and decode children, parented to the client's traceparent", async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
        "x-request-id": "client-trace-1",
      },
      body: JSON.stringify({
        model: "gpt-oss-fake",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 6,
        stream: true,
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const requestId = res.headers.get("x-request-id");
    // Refused before routing (unknown profile): a span still, not an error of the server's.
    const bad = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-oss-fake",
        messages: [{ role: "user", content: "hi" }],
        profile: "nope",
      }),
    });
    expect(bad.status).toBe(400);
    await bad.text();

    await server.shutdown("test"); // flushes the batch

    expect(exports.length).toBeGreaterThan(0);
    expect(exports[0]!.path).toBe("/v1/traces");
    expect(exports[0]!.contentType).toMatch(/application\/json/);
    const resource = exports[0]!.body.resourceSpans[0]!.resource;
    expect(resource.attributes).toContainEqual({
      key: "service.name",
      value: { stringValue: "gpt-oss-server" },
    });
    const spans = exports.flatMap((e) =>
      e.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
    );

    const root = spans.find((s) => s.name === "chat gpt-oss-fake")!;
    expect(root).toBeDefined();
    expect(root.traceId).toBe(TRACE_ID);
    expect(root.parentSpanId).toBe(CLIENT_SPAN);
    expect(root.kind).toBe(2); // SERVER
    expect(attrs(root)).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "gpt-oss-fake",
      "gen_ai.request.stream": true,
      "gen_ai.usage.output_tokens": 6,
      "gen_ai.response.finish_reasons": ["length"],
      model: "gpt-oss-fake",
      profile: "latency_first",
      engine: "fake",
      gpu_mode: "cpu",
      request_id: requestId,
      client_request_id: "client-trace-1",
      outcome: "success",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
    });
    expect(Number(attrs(root)["gen_ai.usage.input_tokens"])).toBeGreaterThan(0);
    expect(root.status?.code ?? 0).toBe(0);

    const children = spans.filter((s) => s.parentSpanId === root.spanId);
    expect(children.map((s) => s.name).sort()).toEqual(["decode", "prefill", "queue"]);
    const at = (name: string) => children.find((s) => s.name === name)!;
    const ns = (v: string) => BigInt(v);
    expect(children.every((s) => s.traceId === TRACE_ID)).toBe(true);
    expect(ns(at("queue").startTimeUnixNano)).toBeGreaterThanOrEqual(ns(root.startTimeUnixNano));
    expect(ns(at("queue").endTimeUnixNano)).toBeLessThanOrEqual(ns(at("prefill").startTimeUnixNano));
    expect(ns(at("prefill").endTimeUnixNano)).toBeLessThanOrEqual(ns(at("decode").startTimeUnixNano));
    expect(ns(at("decode").endTimeUnixNano)).toBeLessThanOrEqual(ns(root.endTimeUnixNano));
    // Six tokens 5 ms apart: decode lasts at least the last five gaps.
    expect(
      Number(ns(at("decode").endTimeUnixNano) - ns(at("decode").startTimeUnixNano)) / 1e6,
    ).toBeGreaterThan(15);

    const refused = spans.find((s) => s.name === "chat")!;
    expect(refused.traceId).not.toBe(TRACE_ID); // no traceparent: a trace of its own
    expect(refused.parentSpanId ?? "").toBe("");
    expect(attrs(refused)).toMatchObject({ outcome: "rejected", "error.type": "unknown_profile" });
    expect(refused.status?.code ?? 0).toBe(0); // a client's mistake is not a server error
    expect(spans.filter((s) => s.parentSpanId === refused.spanId)).toEqual([]);
  });
});
