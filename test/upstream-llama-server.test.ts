/**
 * llama.cpp's own llama-server as the gateway's upstream, for real (issue 12): the binary
 * scripts/build-llama-server.sh builds from the llama.cpp node-llama-cpp bundles, serving the tiny
 * random-weight model, and our server with `--engine upstream --upstream-dialect llama-server` in
 * front, driven by the official openai client. One llama-server and one gateway for the file.
 *
 * Without the binary the file is skipped, saying so (CI does not build it: 11 minutes of CPU, 10.7
 * and 14.3 minutes' wall time on the shared two-core machine): `bash scripts/build-llama-server.sh`
 * builds it into .cache/llama-server; GPTOSS_LLAMA_SERVER names another binary.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCacheDir } from "../src/config/defaults.ts";
import { LLAMA_SERVER_EOG_TOKENS } from "../src/engines/upstream/llama-server-dialect.ts";
import { SPECIAL_TOKENS } from "../src/harmony/special-tokens.ts";
import { ensureTinyModel } from "../src/models/tiny-model.ts";
import { RANDOM_WEIGHTS_STEER } from "../src/serving/random-weights-steering.ts";
import { spawnListening, type ServerProcess } from "./helpers/server-process.ts";
import { startGateway, type GatewayProcess } from "./helpers/upstream-gateway.ts";
import { VERDICT_RESPONSE_FORMAT } from "./helpers/verdict-format.ts";

const BINARY =
  process.env["GPTOSS_LLAMA_SERVER"] ??
  fileURLToPath(new URL("../.cache/llama-server/bin/llama-server", import.meta.url));
const built = existsSync(BINARY);
if (!built) {
  console.warn(
    `upstream-llama-server.test.ts skipped: no llama-server at ${BINARY} ` +
      "(build it with `bash scripts/build-llama-server.sh`, or set GPTOSS_LLAMA_SERVER)",
  );
}

/** Polls `check` until it holds (every 50 ms) or fails the test after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts llama-server on a free port and waits until its model is loaded (/health answers 200). */
async function startLlamaServer(model: string): Promise<ServerProcess> {
  const server = await spawnListening(
    BINARY,
    ["-m", model, "--host", "127.0.0.1", "--port", "0", "--alias", "gpt-oss-tiny"].concat(
      // Two slots of 4,096 tokens each (llama-server splits -c between its slots); two threads.
      ["-c", "8192", "-np", "2", "-t", "2", "--slots", "--no-webui"],
    ),
    { name: "llama-server", listening: /listening on (http:\/\/[\d.:]+)/, timeoutMs: 60_000 },
  );
  try {
    // llama-server answers /health 503 while it loads the model, 200 once it serves.
    const healthy = async () => (await fetch(`${server.url}/health`).catch(() => undefined))?.status === 200;
    await until(healthy, "llama-server's model", 60_000);
    return server;
  } catch (error) {
    await server.stop("SIGKILL"); // afterAll knows nothing of a server that never came up
    throw error;
  }
}

interface Slot {
  id: number;
  is_processing: boolean;
  id_task?: number;
  /** Tokens in the slot's cache: the prompt and what was generated. */
  n_prompt_tokens?: number;
}

let upstream: ServerProcess | undefined;
let gateway: GatewayProcess | undefined;
let client: OpenAI;

beforeAll(async () => {
  if (!built) return;
  const model = process.env["GPTOSS_TINY_MODEL"] ?? (await ensureTinyModel(defaultCacheDir()));
  upstream = await startLlamaServer(model);
  gateway = await startGateway(upstream.url, 2, ["--upstream-dialect", "llama-server"]);
  client = gateway.client;
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

const user = (content: string) => [{ role: "user" as const, content }];
const slots = async (): Promise<Slot[]> => (await (await fetch(`${upstream!.url}/slots`)).json()) as Slot[];

describe.skipIf(!built)("the gateway over llama-server (tiny model)", () => {
  it("llama-server ends a generation on exactly the dialect's EOG tokens, and not on <|end|>", async () => {
    // <|start|>user<|message|>Hi<|end|><|start|>assistant
    const prompt = [200006, 1428, 200008, 12194, 200007, 200006, 173781];
    for (const token of [...LLAMA_SERVER_EOG_TOKENS, SPECIAL_TOKENS.end]) {
      const res = await fetch(`${upstream!.url}/completion`, {
        method: "POST",
        body: JSON.stringify({
          prompt,
          n_predict: 2,
          temperature: 0,
          return_tokens: true,
          logit_bias: { [token]: 100 },
        }),
      });
      const body = (await res.json()) as { tokens: number[]; stop_type: string };
      expect(body.tokens[0]).toBe(token);
      expect(body.stop_type, `token ${token}`).toBe(
        LLAMA_SERVER_EOG_TOKENS.includes(token) ? "eos" : "limit",
      );
    }
  });

  it("serves chat through it, streaming and not: content, finish_reason, usage", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-oss-tiny"]);
    const res = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("Hi"),
      max_tokens: 16,
      seed: 1,
    });
    const choice = res.choices[0]!;
    expect(["stop", "length"]).toContain(choice.finish_reason);
    expect(choice.message.content ?? "").not.toBe("");
    // Harmony was parsed here, from llama-server's token ids: no control token as text.
    expect(choice.message.content ?? "").not.toMatch(/<\|(start|channel|message|end|return)\|>/);
    expect(res.usage?.prompt_tokens).toBeGreaterThan(20);
    expect(res.usage?.completion_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("Hello"),
      max_tokens: 16,
      seed: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(content).not.toBe("");
    expect(["stop", "length"]).toContain(finish);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("reports the prompt tokens llama-server found in its cache", async () => {
    const messages = user(`Remember: ${"the quick brown fox jumps over the lazy dog ".repeat(20)}`);
    await client.chat.completions.create({ model: "gpt-oss-tiny", messages, max_tokens: 2 });
    const again = await client.chat.completions.create({ model: "gpt-oss-tiny", messages, max_tokens: 2 });
    expect(again.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(100);
  });

  it("structured output: llama-server enforces our grammar, the answer is JSON under the schema", async () => {
    const res = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("Is it ok?"),
      max_tokens: 120,
      seed: 4,
      // What our server steers its own random-weight models with (random-weights-steering.ts); an
      // upstream does not say its weights are random, so the test sends the bias itself.
      logit_bias: Object.fromEntries(RANDOM_WEIGHTS_STEER),
      response_format: VERDICT_RESPONSE_FORMAT,
    });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    const answer = JSON.parse(choice.message.content ?? "") as Record<string, unknown>;
    expect(Object.keys(answer).sort()).toEqual(["answer", "sure"]);
    expect(["yes", "no"]).toContain(answer["answer"]);
    expect(typeof answer["sure"]).toBe("boolean");
  });

  it("a client that leaves mid-stream frees llama-server's slot before its budget is spent", async () => {
    const maxTokens = 3000;
    const stream = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: user("a long answer, please"),
      max_tokens: maxTokens,
      stream: true,
      // vLLM's extra, which our server takes: no early end of generation, only the budget or a cancel.
      ...{ ignore_eos: true },
    });
    for await (const chunk of stream) if (chunk.choices[0]?.delta !== undefined) break; // leaves: aborts
    await until(async () => (await slots()).every((s) => !s.is_processing), "the slot to be released");
    // The slot that ran it (the latest task) holds the prompt and what was generated until the cancel:
    // far from the budget, which would take llama-server many seconds to spend.
    const last = (await slots()).reduce((a, b) => ((a.id_task ?? -1) > (b.id_task ?? -1) ? a : b));
    expect(last.n_prompt_tokens).toBeLessThan(maxTokens);
    expect(upstream!.output()).toMatch(/cancel task, id_task = \d+/); // llama-server's own word for it
  });
});
