/**
 * The gateway (issue 12): one server process with `--engine upstream` in front of two of our own
 * server processes serving the tiny model (real upstreams, OpenAI-compatible, speaking vLLM's
 * token-level /v1/completions dialect), driven by the official openai client. Chat streams and not
 * through our harmony parser; a repeated prefix returns to the upstream that cached it; when one
 * upstream is killed, the gateway keeps serving on the other; a client that leaves cancels the upstream request.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let upstreams: ServerProcess[] = [];
let gateway: ServerProcess;
let client: OpenAI;

const UPSTREAM_ARGS = [
  "--model",
  "tiny",
  "--engine-process",
  "inline",
  "--parallel",
  "4",
  "--context-size",
  "2048",
];

beforeAll(async () => {
  upstreams = await Promise.all([startServerProcess(UPSTREAM_ARGS), startServerProcess(UPSTREAM_ARGS)]);
  await Promise.all(upstreams.map((u) => waitReady(u.url)));
  gateway = await startServerProcess([
    "--engine",
    "upstream",
    "--upstream",
    upstreams.map((u) => u.url).join(","),
    "--upstream-parallel",
    "4",
  ]);
  await waitReady(gateway.url);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
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
  });

  it("a client that leaves mid-stream cancels the upstream's request too", async () => {
    const live = upstreams[1]!;
    const cancelled = async (): Promise<number> =>
      ((await (await fetch(`${live.url}/stats`)).json()) as { requests_cancelled: number })
        .requests_cancelled;
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
      ...UPSTREAM_ARGS,
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
