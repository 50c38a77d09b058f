/**
 * The gateway (issue 12): one server process with `--engine upstream` in front of two of our own
 * server processes serving the tiny model (real upstreams, OpenAI-compatible, speaking vLLM's
 * token-level /v1/completions dialect), driven by the official openai client. Chat streams and not
 * through our harmony parser; a repeated prefix returns to the upstream that cached it; when one
 * upstream is killed, the gateway keeps serving on the other; a client that leaves cancels the upstream request.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";
import {
  startGateway,
  startTinyUpstreams,
  tinyUpstreamArgs,
  type GatewayProcess,
} from "./helpers/upstream-gateway.ts";

let upstreams: ServerProcess[] = [];
let gateway: GatewayProcess;
let client: OpenAI;

/** The second upstream asks for a key; the gateway reads it from a file named in that upstream's URL. */
const UPSTREAM_KEY = "second-upstream-key";
const keyed = { authorization: `Bearer ${UPSTREAM_KEY}` };

beforeAll(async () => {
  upstreams = await startTinyUpstreams(4, [[], ["--api-key", UPSTREAM_KEY]]);
  const keyFile = join(mkdtempSync(join(tmpdir(), "gw-key-")), "key");
  writeFileSync(keyFile, `${UPSTREAM_KEY}\n`);
  gateway = await startGateway(`${upstreams[0]!.url},${upstreams[1]!.url}#weight=2&key-file=${keyFile}`, 4);
  client = gateway.client;
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all(upstreams.map((u) => u.stop()));
});

const user = (content: string) => [{ role: "user" as const, content }];

describe("a gateway over two upstreams (our own servers, tiny model)", () => {
  it("serves the upstreams' model: listed, answered through our parser, streaming and not, with usage", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-oss-tiny"]);
    const res = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("Hi"),
      max_tokens: 16,
    });
    expect(["stop", "length", "tool_calls"]).toContain(res.choices[0]?.finish_reason);
    expect(res.usage?.prompt_tokens).toBeGreaterThan(20);
    expect(res.usage?.completion_tokens).toBeGreaterThan(0);
    // No control token leaks as text: the upstream's ids went through our harmony parser.
    expect(res.choices[0]?.message.content ?? "").not.toMatch(/<\|(start|channel|message|end)\|>/);

    const stream = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("Hello"),
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      usage = chunk.usage ?? usage;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBeDefined();
    expect(usage?.completion_tokens).toBeGreaterThan(0);

    const health = (await (await fetch(`${gateway.url}/health`)).json()) as {
      engines: Record<string, unknown>;
    };
    expect(Object.keys(health.engines)).toEqual(["upstream"]);
  });

  it("reports each upstream in /health, /stats and /metrics: its URL, dialect, weight and counts", async () => {
    const health = (await (await fetch(`${gateway.url}/health`)).json()) as {
      engines: { upstream: { replicas: Array<{ upstream: Record<string, unknown> }> } };
    };
    const views = health.engines.upstream.replicas.map((r) => r.upstream);
    expect(views.map((v) => [v.url, v.dialect, v.weight, v.circuit])).toEqual([
      [upstreams[0]!.url, "vllm", 1, "closed"],
      [upstreams[1]!.url, "vllm", 2, "closed"],
    ]);
    // The keyed upstream answered (its key came from the file): it served requests without failing.
    const stats = (await (await fetch(`${gateway.url}/stats`)).json()) as {
      replicas: Array<{ upstream: { requests: number; failures: number } }>;
    };
    const requests = stats.replicas.map((r) => r.upstream.requests);
    expect(requests.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    expect(stats.replicas.map((r) => r.upstream.failures)).toEqual([0, 0]);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    for (const u of upstreams) {
      expect(metrics).toContain(
        `gptoss_upstream_up{model_id="gpt-oss-tiny",upstream="${u.url}",dialect="vllm"} 1`,
      );
      expect(metrics).toMatch(
        new RegExp(`gptoss_upstream_requests_total\\{model_id="gpt-oss-tiny",upstream="${u.url}"\\} \\d+`),
      );
    }
  });

  it("sends a repeated prefix back to the upstream that holds it (cached_tokens from the upstream)", async () => {
    const history = user(
      `Remember this long context: ${"the quick brown fox jumps over the lazy dog ".repeat(40)}`,
    );
    await client.chat.completions.create({ model: "gpt-oss-tiny", messages: history, max_tokens: 4 });
    for (let turn = 0; turn < 3; turn++) {
      const res = await client.chat.completions.create({
        model: "gpt-oss-tiny",
        messages: [...history, { role: "assistant", content: "ok" }, ...user(`turn ${turn}`)],
        max_tokens: 4,
      });
      expect(res.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(200);
    }
  });

  it("keeps serving when one upstream dies (failover before the first token, then the circuit skips it)", async () => {
    expect(await upstreams[0]!.stop("SIGKILL")).toBeNull();
    for (let i = 0; i < 6; i++) {
      const res = await client.chat.completions.create({
        model: "gpt-oss-tiny",
        messages: user(`after the crash ${i}`),
        max_tokens: 4,
      });
      expect(res.choices[0]?.finish_reason).toBeDefined();
    }
    const stream = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("streamed after the crash"),
      max_tokens: 8,
      stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) if (chunk.choices.length > 0) chunks++;
    expect(chunks).toBeGreaterThan(0);
    // The dead upstream is counted as failing and, once its circuit opens (failed requests and
    // probes in a row), out of the router: in /health and /metrics.
    const deadView = async () =>
      (
        (await (await fetch(`${gateway.url}/health`)).json()) as {
          engines: { upstream: { replicas: Array<{ status: string; upstream: { failures: number } }> } };
        }
      ).engines.upstream.replicas[0]!;
    const deadline = Date.now() + 20_000;
    while ((await deadView()).status !== "loading" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const dead = await deadView();
    expect(dead.status).toBe("loading");
    expect(dead.upstream.failures).toBeGreaterThanOrEqual(3);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain(
      `gptoss_upstream_up{model_id="gpt-oss-tiny",upstream="${upstreams[0]!.url}",dialect="vllm"} 0`,
    );
  });

  it("a client that leaves mid-stream cancels the upstream's request too", async () => {
    const live = upstreams[1]!;
    const cancelled = async (): Promise<number> =>
      (
        (await (await fetch(`${live.url}/stats`, { headers: keyed })).json()) as {
          requests_cancelled: number;
        }
      ).requests_cancelled;
    const before = await cancelled();
    const stream = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("a long answer, please"),
      max_tokens: 1500,
      stream: true,
    });
    for await (const chunk of stream) if (chunk.choices[0]?.delta !== undefined) break; // leaves: aborts
    const deadline = Date.now() + 10_000;
    while ((await cancelled()) <= before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await cancelled()).toBeGreaterThan(before);
  });

  it("--engine auto starts on the upstreams when they answer, else on the embedded engine", async () => {
    const auto = await startServerProcess([
      "--engine",
      "auto",
      "--upstream",
      "http://127.0.0.1:9", // nothing listens (the discard port)
      "--upstream-timeout",
      "2000",
      ...tinyUpstreamArgs(4),
    ]);
    try {
      await waitReady(auto.url);
      const health = (await (await fetch(`${auto.url}/health`)).json()) as {
        engines: Record<string, unknown>;
      };
      expect(Object.keys(health.engines)).toEqual(["custom"]);
      expect(auto.output()).toMatch(/the upstreams did not answer; starting the embedded engine/);
    } finally {
      await auto.stop();
    }
  });
});
