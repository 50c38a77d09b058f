import { describe, expect, it } from "vitest";
import type { RequestRecord } from "./request-record.ts";
import { createServerMetrics } from "./prometheus.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition lines `name{a="x",b="y"} value` (comments skipped). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The one sample with this name whose labels include `labels`; fails on none or several. */
function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`${found.length} samples for ${name} ${JSON.stringify(labels)}`);
  return (found[0] as Sample).value;
}

const RECORD: RequestRecord = {
  requestId: "r1",
  profile: "latency_first",
  model: "gpt-oss-20b",
  engine: "custom",
  stream: true,
  outcome: "success",
  status: 200,
  ttftMs: 250,
  e2eMs: 1500,
  promptTokens: 100,
  cachedTokens: 64,
  completionTokens: 30,
  reasoningTokens: 12,
};

const STATIC = { model_size: "20b", gpu_mode: "pipeline" };

describe("createServerMetrics", () => {
  it("counts requests with the v4.5.1 tags", async () => {
    const metrics = createServerMetrics(STATIC);
    metrics.observeRequest(RECORD);
    metrics.observeRequest({ ...RECORD, requestId: "r2" });
    metrics.observeRequest({
      ...RECORD,
      requestId: "r3",
      outcome: "rejected",
      status: 400,
      ttftMs: undefined,
    });
    const samples = parseSamples(await metrics.render());
    expect(
      sample(samples, "gptoss_requests_total", {
        model: "gpt-oss-20b",
        model_size: "20b",
        gpu_mode: "pipeline",
        engine: "custom",
        profile: "latency_first",
        status: "200",
        outcome: "success",
      }),
    ).toBe(2);
    expect(sample(samples, "gptoss_requests_total", { status: "400", outcome: "rejected" })).toBe(1);
  });

  it("observes e2e and TTFT in seconds in the labelled histograms", async () => {
    const metrics = createServerMetrics(STATIC);
    metrics.observeRequest(RECORD);
    // a rejected request has no e2e worth timing: it must not land in the histogram
    metrics.observeRequest({ ...RECORD, outcome: "rejected", status: 400, ttftMs: undefined, e2eMs: 2 });
    const samples = parseSamples(await metrics.render());
    const labels = { model: "gpt-oss-20b", engine: "custom", profile: "latency_first" };

    expect(sample(samples, "gptoss_request_duration_seconds_count", labels)).toBe(1);
    expect(sample(samples, "gptoss_request_duration_seconds_sum", labels)).toBeCloseTo(1.5, 9);
    expect(sample(samples, "gptoss_request_duration_seconds_bucket", { ...labels, le: "1" })).toBe(0);
    expect(sample(samples, "gptoss_request_duration_seconds_bucket", { ...labels, le: "2.5" })).toBe(1);
    expect(sample(samples, "gptoss_request_duration_seconds_bucket", { ...labels, le: "120" })).toBe(1);

    expect(sample(samples, "gptoss_time_to_first_token_seconds_count", labels)).toBe(1);
    expect(sample(samples, "gptoss_time_to_first_token_seconds_bucket", { ...labels, le: "0.1" })).toBe(0);
    expect(sample(samples, "gptoss_time_to_first_token_seconds_bucket", { ...labels, le: "0.25" })).toBe(1);
  });

  it("counts tokens by kind", async () => {
    const metrics = createServerMetrics(STATIC);
    metrics.observeRequest(RECORD);
    metrics.observeRequest({ ...RECORD, requestId: "r2", completionTokens: 10, reasoningTokens: -1 });
    const samples = parseSamples(await metrics.render());
    const labels = { model: "gpt-oss-20b", profile: "latency_first" };
    expect(sample(samples, "gptoss_tokens_total", { ...labels, kind: "prompt" })).toBe(200);
    expect(sample(samples, "gptoss_tokens_total", { ...labels, kind: "cached" })).toBe(128);
    expect(sample(samples, "gptoss_tokens_total", { ...labels, kind: "completion" })).toBe(40);
    // a negative count is ignored rather than throwing from prom-client
    expect(sample(samples, "gptoss_tokens_total", { ...labels, kind: "reasoning" })).toBe(12);
  });

  it("exposes queue gauges, parse errors, cancellations and default process metrics", async () => {
    const metrics = createServerMetrics(STATIC);
    metrics.setQueue(3, 7);
    metrics.parseError("gpt-oss-20b");
    metrics.parseError("gpt-oss-20b");
    metrics.cancelled("client_disconnect");
    metrics.cancelled("timeout");
    metrics.cancelled("timeout");
    const text = await metrics.render();
    const samples = parseSamples(text);
    expect(sample(samples, "gptoss_active_requests")).toBe(3);
    expect(sample(samples, "gptoss_queue_length")).toBe(7);
    expect(sample(samples, "gptoss_harmony_parse_errors_total", { model: "gpt-oss-20b" })).toBe(2);
    expect(sample(samples, "gptoss_cancellations_total", { reason: "client_disconnect" })).toBe(1);
    expect(sample(samples, "gptoss_cancellations_total", { reason: "timeout" })).toBe(2);
    expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(metrics.contentType).toContain("text/plain");
  });

  it("keeps separate instances apart (no global registry)", async () => {
    const first = createServerMetrics(STATIC);
    const second = createServerMetrics({ model_size: "tiny", gpu_mode: "cpu" });
    first.observeRequest(RECORD);
    const secondSamples = parseSamples(await second.render());
    expect(secondSamples.filter((s) => s.name === "gptoss_requests_total")).toEqual([]);
    const firstSamples = parseSamples(await first.render());
    expect(sample(firstSamples, "gptoss_requests_total", { model_size: "20b" })).toBe(1);
  });

  it("exposes each engine worker's restarts (a growing counter) and last exit, by model and replica", async () => {
    const metrics = createServerMetrics(STATIC);
    const exit = { reason: "exit (signal SIGKILL)", code: null, signal: "SIGKILL" };
    metrics.setEngineWorkers([
      { model_id: "gpt-oss-20b", replica: "0", restarts: 0 },
      { model_id: "gpt-oss-20b", replica: "1", restarts: 1, lastExit: exit },
    ]);
    let samples = parseSamples(await metrics.render());
    const restarts = (replica: string): number =>
      sample(samples, "gptoss_engine_worker_restarts_total", { model_id: "gpt-oss-20b", replica });
    expect([restarts("0"), restarts("1")]).toEqual([0, 1]);
    expect(
      sample(samples, "gptoss_engine_worker_last_exit_info", {
        model_id: "gpt-oss-20b",
        replica: "1",
        reason: "exit (signal SIGKILL)",
        code: "",
        signal: "SIGKILL",
      }),
    ).toBe(1);
    // Scraped again after two more restarts of replica 1: the counter follows, one last exit stays.
    const failed = { reason: "5 requests failed in a row (last: boom)", code: null, signal: "SIGKILL" };
    metrics.setEngineWorkers([
      { model_id: "gpt-oss-20b", replica: "0", restarts: 0 },
      { model_id: "gpt-oss-20b", replica: "1", restarts: 3, lastExit: failed },
    ]);
    samples = parseSamples(await metrics.render());
    expect([restarts("0"), restarts("1")]).toEqual([0, 3]);
    const exits = samples.filter((s) => s.name === "gptoss_engine_worker_last_exit_info");
    expect(exits.map((s) => s.labels["reason"])).toEqual([failed.reason]);
  });

  it("exposes each upstream of a gateway: up, in flight, and its counts as growing counters", async () => {
    const metrics = createServerMetrics(STATIC);
    const base = { model_id: "gpt-oss-20b", dialect: "vllm", inFlight: 2, rateLimited: 0 };
    metrics.setUpstreams([
      { ...base, upstream: "http://a:8000", up: true, requests: 10, failures: 0 },
      { ...base, upstream: "http://b:8000", up: false, requests: 4, failures: 3, rateLimited: 1 },
    ]);
    let samples = parseSamples(await metrics.render());
    const of = (name: string, upstream: string): number =>
      sample(samples, name, { model_id: "gpt-oss-20b", upstream });
    expect(
      sample(samples, "gptoss_upstream_up", {
        model_id: "gpt-oss-20b",
        upstream: "http://b:8000",
        dialect: "vllm",
      }),
    ).toBe(0);
    expect(of("gptoss_upstream_failures_total", "http://b:8000")).toBe(3);
    expect(of("gptoss_upstream_rate_limited_total", "http://b:8000")).toBe(1);
    // Scraped again: the counters follow the totals, never counting one twice.
    metrics.setUpstreams([{ ...base, upstream: "http://a:8000", up: true, requests: 15, failures: 1 }]);
    samples = parseSamples(await metrics.render());
    expect(of("gptoss_upstream_requests_total", "http://a:8000")).toBe(15);
    expect(of("gptoss_upstream_failures_total", "http://a:8000")).toBe(1);
    expect(of("gptoss_upstream_requests_in_flight", "http://a:8000")).toBe(2);
  });

  it("shows the response cache's totals as counters that only grow, its size as gauges", async () => {
    const metrics = createServerMetrics({ model_size: "20b", gpu_mode: "cpu" });
    metrics.setResponseCache({ enabled: true, hits: 2, misses: 5, entries: 3, bytes: 900, max_bytes: 1000 });
    metrics.setResponseCache({ enabled: true, hits: 4, misses: 5, entries: 2, bytes: 600, max_bytes: 1000 });
    const samples = parseSamples(await metrics.render());
    expect(sample(samples, "gptoss_response_cache_hits_total")).toBe(4);
    expect(sample(samples, "gptoss_response_cache_misses_total")).toBe(5);
    expect(sample(samples, "gptoss_response_cache_entries")).toBe(2);
    expect(sample(samples, "gptoss_response_cache_bytes")).toBe(600);
  });

  it("leaves a response-cache hit's tokens out of the token counters", async () => {
    const metrics = createServerMetrics({ model_size: "20b", gpu_mode: "cpu" });
    metrics.observeRequest(RECORD);
    metrics.observeRequest({ ...RECORD, requestId: "r2", responseCache: "hit" });
    const samples = parseSamples(await metrics.render());
    const requests = samples.filter((s) => s.name === "gptoss_requests_total");
    expect(requests.reduce((sum, s) => sum + s.value, 0)).toBe(2);
    expect(sample(samples, "gptoss_tokens_total", { kind: "prompt" })).toBe(RECORD.promptTokens);
  });

  it("labels each request with the size of the model that served it (several models)", async () => {
    const metrics = createServerMetrics(
      { model_size: "20b,120b", gpu_mode: "cpu" },
      { modelSize: (id) => ({ "gpt-oss-20b": "20b", "gpt-oss-120b": "120b" })[id] },
    );
    metrics.observeRequest(RECORD);
    metrics.observeRequest({ ...RECORD, model: "gpt-oss-120b" });
    metrics.setModels([
      {
        model_id: "gpt-oss-120b",
        model_size: "120b",
        engine: "custom",
        gpu_mode: "cpu",
        tp: "1",
        pp: "1",
        max_model_len: "8192",
      },
    ]);
    const samples = parseSamples(await metrics.render());
    expect(sample(samples, "gptoss_requests_total", { model_id: "gpt-oss-20b", model_size: "20b" })).toBe(1);
    expect(sample(samples, "gptoss_requests_total", { model_id: "gpt-oss-120b", model_size: "120b" })).toBe(
      1,
    );
    expect(sample(samples, "gptoss_model_info", { model_id: "gpt-oss-120b", model_size: "120b" })).toBe(1);
  });
});
