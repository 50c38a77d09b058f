/**
 * The llama-server dialect through UpstreamEngine, against a llama-server test double (a plain
 * node:http server answering /v1/models and /completion in the shapes of llama.cpp's tools/server):
 * the body it writes, how it reads the streamed chunks (ids, finish, usage), the stops llama-server
 * does not know, and the ids its stream leaves out. The real llama-server is in
 * test/upstream-llama-server.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest } from "../engine.ts";
import { getHarmonyTokenizer } from "../../harmony/tokenizer.ts";
import { LLAMA_SERVER_EOG_TOKENS, llamaServerDialect } from "./llama-server-dialect.ts";
import { UpstreamEngine } from "./upstream-engine.ts";

type Handler = (body: Record<string, unknown>, res: ServerResponse) => void;

interface Double {
  url: string;
  server: Server;
  bodies: Record<string, unknown>[];
  /** Resolves when the client closed a /completion response before it ended. */
  closedEarly: Promise<void>;
}

/** A llama-server test double: /v1/models as llama-server writes it, /health, and /completion. */
async function llamaServerDouble(handler: Handler): Promise<Double> {
  const bodies: Record<string, unknown>[] = [];
  let closed!: () => void;
  const closedEarly = new Promise<void>((r) => (closed = r));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/v1/models") {
      res.setHeader("content-type", "application/json");
      // llama-server names no max_model_len: a slot's context is meta.n_ctx.
      res.end(JSON.stringify({ data: [{ id: "gpt-oss-20b", owned_by: "llamacpp", meta: { n_ctx: 8192 } }] }));
      return;
    }
    if (req.url === "/health") {
      res.end('{"status":"ok"}');
      return;
    }
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      res.on("close", () => {
        if (!res.writableFinished) closed();
      });
      handler(body, res);
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bodies, closedEarly };
}

/** llama-server's stream: one `data:` payload a chunk, no [DONE] (its native endpoint sends none). */
const sse = (res: ServerResponse, chunks: unknown[], end = true): void => {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const c of chunks) res.write(`data: ${JSON.stringify(c)}\n\n`);
  if (end) res.end();
};

/** A partial chunk: `n` is llama-server's tokens_predicted (this chunk's token included). */
const partial = (token: number, n: number, content = "x") => ({
  content,
  tokens: [token],
  stop: false,
  tokens_predicted: n,
  tokens_evaluated: 3,
});
const final = (stopType: string, n: number) => ({
  content: "",
  tokens: [],
  stop: true,
  stop_type: stopType,
  tokens_predicted: n,
  tokens_evaluated: 3,
  timings: { cache_n: 2, prompt_n: 1 },
});

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "r",
  promptTokens: [1, 2, 3],
  stopTokens: [200002, 200012],
  maxTokens: 8,
  sampling: {
    temperature: 0.7,
    topP: 0.9,
    seed: -1,
    presencePenalty: 0.5,
    frequencyPenalty: 0,
    logitBias: new Map([[5, -100]]),
  },
  ...overrides,
});

let servers: Server[] = [];
let engines: UpstreamEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.map((e) => e.close()));
  for (const s of servers) s.close();
  servers = [];
  engines = [];
});

async function connect(handler: Handler) {
  const double = await llamaServerDouble(handler);
  servers.push(double.server);
  const engine = await UpstreamEngine.connect({
    url: double.url,
    timeoutMs: 5_000,
    maxRequests: 4,
    contextSize: 1024,
    probeIntervalMs: 0,
    dialect: llamaServerDialect,
  });
  engines.push(engine);
  return { engine, double };
}

describe("llama-server dialect (llama-server test double)", () => {
  it("posts token ids to /completion with OpenAI's sampling, reads the ids, the EOS stop and usage", async () => {
    const { engine, double } = await connect((_body, res) =>
      sse(res, [partial(10, 1), partial(11, 2), partial(200002, 3, ""), final("eos", 3)]),
    );
    expect(engine.info).toMatchObject({ modelId: "gpt-oss-20b", contextSize: 8192 });
    expect(engine.info.capabilities.grammar).toBe(true);
    const run = await collectRun(engine, request({ grammar: { gbnf: "root ::= <[200005]> [a-z]+" } }));
    expect(run.tokens).toEqual([10, 11, 200002]);
    expect(run.finish).toMatchObject({
      reason: "stop",
      stopToken: 200002,
      usage: { promptTokens: 3, cachedTokens: 2, completionTokens: 3 },
    });
    expect(double.bodies[0]).toEqual({
      prompt: [1, 2, 3],
      n_predict: 8,
      stream: true,
      return_tokens: true,
      cache_prompt: true,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 0,
      min_p: 0,
      typical_p: 1,
      top_n_sigma: -1,
      xtc_probability: 0,
      dry_multiplier: 0,
      mirostat: 0,
      repeat_penalty: 1,
      seed: 0xffffffff, // -1 as a uint32
      presence_penalty: 0.5,
      frequency_penalty: 0,
      repeat_last_n: 8,
      // <|endoftext|> is EOG for llama-server but not a stop of this request: banned.
      logit_bias: { "5": -100, "199999": false },
      grammar: "root ::= <[200005]> [a-z]+",
    });
  });

  it("a limit is a length finish; <|call|> names the stop token", async () => {
    let answer = [partial(10, 1), final("limit", 1)];
    const { engine } = await connect((_b, res) => sse(res, answer));
    expect((await collectRun(engine, request())).finish).toMatchObject({ reason: "length" });
    answer = [partial(200012, 1, ""), final("eos", 1)];
    expect((await collectRun(engine, request())).finish).toMatchObject({ reason: "stop", stopToken: 200012 });
  });

  it("ignoreStopTokens bans every EOG token (llama-server could only stop there)", async () => {
    const { engine, double } = await connect((_b, res) => sse(res, [partial(10, 1), final("limit", 1)]));
    await collectRun(engine, request({ ignoreStopTokens: true }));
    expect(double.bodies[0]?.["logit_bias"]).toEqual({
      "5": -100,
      ...Object.fromEntries(LLAMA_SERVER_EOG_TOKENS.map((t) => [String(t), false])),
    });
    expect(double.bodies[0]).not.toHaveProperty("grammar");
  });

  it("minTokens holds EOG tokens off with a grammar; under the request's grammar it does not apply", async () => {
    const { engine, double } = await connect((_b, res) => sse(res, [partial(10, 1), final("limit", 1)]));
    await collectRun(engine, request({ minTokens: 3 }));
    expect(double.bodies[0]?.["grammar"]).toBe("root ::= t{2} t*\nt ::= !<[199999]>\n");
    await collectRun(engine, request({ minTokens: 2501 }));
    expect(double.bodies[1]?.["grammar"]).toBe("root ::= k{2} t{500} t*\nk ::= t{1000}\nt ::= !<[199999]>\n");
    await collectRun(engine, request({ minTokens: 3, grammar: { gbnf: "root ::= [a]" } }));
    expect(double.bodies[2]?.["grammar"]).toBe("root ::= [a]");
  });

  it("a stop token llama-server does not know ends the answer there and closes the request", async () => {
    const { engine, double } = await connect((_b, res) =>
      // The double keeps generating, as llama-server would, and never ends the response itself.
      sse(res, [partial(10, 1), partial(200007, 2), partial(12, 3), partial(13, 4)], false),
    );
    const run = await collectRun(engine, request({ stopTokens: [200007] }));
    expect(run.tokens).toEqual([10, 200007]);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200007, usage: { completionTokens: 2 } });
    await double.closedEarly; // the engine closed the stream: llama-server cancels the generation
    // <|return|>, <|call|> and <|endoftext|> are not stops of this request: all banned.
    expect(Object.keys(double.bodies[0]?.["logit_bias"] as object)).toEqual([
      "5",
      "199999",
      "200002",
      "200012",
    ]);
  });

  it("before minTokens such a stop token is generated like any other", async () => {
    const { engine } = await connect((_b, res) =>
      sse(res, [partial(200007, 1), partial(11, 2), partial(200007, 3)], false),
    );
    const run = await collectRun(engine, request({ stopTokens: [200007], minTokens: 2 }));
    expect(run.tokens).toEqual([200007, 11, 200007]);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200007 });
  });

  it("fills the ids a chunk leaves out (a UTF-8 character cut between tokens) from its text", async () => {
    const tokenizer = getHarmonyTokenizer();
    const [a] = tokenizer.encode("a");
    const smile = tokenizer.encode(" 😀!");
    const { engine } = await connect((_b, res) =>
      sse(res, [
        partial(a!, 1, "a"),
        // Two tokens generated since; llama-server sends the text of both and the id of the last.
        partial(smile.at(-1)!, 3, " 😀!"),
        partial(200002, 4, ""),
        final("eos", 4),
      ]),
    );
    const run = await collectRun(engine, request());
    expect(tokenizer.decode(run.tokens)).toBe("a 😀!<|return|>");
    expect(run.tokens.slice(1, -1)).toEqual(tokenizer.encodeWithSpecials(" 😀!"));
    // Usage keeps llama-server's count of the tokens it generated.
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200002, usage: { completionTokens: 4 } });
  });
});
