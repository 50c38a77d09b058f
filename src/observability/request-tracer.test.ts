import { describe, expect, it } from "vitest";
import { otlpTracesUrl } from "./otlp-tracer.ts";
import { parseTraceparent } from "./request-tracer.ts";

describe("parseTraceparent (W3C Trace Context §3.2)", () => {
  const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  const SPAN = "00f067aa0ba902b7";

  it("reads version 00: trace id, parent span id and flags", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
    });
    expect(parseTraceparent(` 00-${TRACE}-${SPAN}-00 `)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 0,
    });
  });

  it("reads a later version's first four fields and ignores what it appends", () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)?.traceId).toBe(TRACE);
  });

  it("refuses what the spec calls invalid: then the request starts a trace of its own", () => {
    for (const bad of [
      undefined,
      "",
      `ff-${TRACE}-${SPAN}-01`, // version ff
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has four fields
      `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero span id
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper case
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-1`,
      `00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-01`, // a repeated header, joined
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });
});

describe("otlpTracesUrl", () => {
  it("adds /v1/traces to a base endpoint and keeps a full traces URL", () => {
    expect(otlpTracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
    expect(otlpTracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces");
    expect(otlpTracesUrl("https://otel.example/prefix")).toBe("https://otel.example/prefix/v1/traces");
    expect(otlpTracesUrl("http://collector:4318/v1/traces")).toBe("http://collector:4318/v1/traces");
  });
});
