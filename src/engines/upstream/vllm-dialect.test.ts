/**
 * vLLM's dialect with a constraint, against a vLLM test double (a plain node:http server answering
 * as vLLM's /v1/completions does with return_token_ids): the grammar goes as
 * `structured_outputs.grammar` in xgrammar's EBNF (vLLM 0.10.2+, the releases with
 * return_token_ids), with the stop set whole and no min_tokens. The rest of the dialect is covered
 * in upstream-engine.test.ts.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest } from "../engine.ts";
import { UpstreamEngine } from "./upstream-engine.ts";

const VLLM_MODEL = { id: "openai/gpt-oss-20b", owned_by: "vllm", max_model_len: 4096 };

/**
 * vLLM test double (or, with this server's model entry, a test double of this server, which speaks
 * the same dialect): every completion streams the ids [10, 200002] and stops on 200002.
 */
async function vllmDouble(
  model: Record<string, unknown>,
): Promise<{ url: string; server: Server; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    if (req.url === "/v1/models") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: [model] }));
      return;
    }
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(200, { "content-type": "text/event-stream" });
      const choice = {
        index: 0,
        text: "",
        token_ids: [10, 200002],
        finish_reason: "stop",
        stop_reason: 200002,
      };
      res.write(`data: ${JSON.stringify({ choices: [choice] })}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bodies };
}

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "r",
  promptTokens: [1, 2, 3],
  stopTokens: [200002, 200012],
  maxTokens: 8,
  sampling: { temperature: 1, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
  ...overrides,
});

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

async function connect(model: Record<string, unknown> = VLLM_MODEL) {
  const double = await vllmDouble(model);
  const engine = await UpstreamEngine.connect({
    url: double.url,
    timeoutMs: 5_000,
    maxRequests: 2,
    contextSize: 1024,
    probeIntervalMs: 0,
  });
  cleanups.push(async () => {
    await engine.close();
    double.server.close();
  });
  return { engine, bodies: double.bodies };
}

describe("vLLM dialect with a grammar (vLLM test double)", () => {
  it("sends the grammar as structured_outputs.grammar in xgrammar's EBNF, stops whole, no min_tokens", async () => {
    const { engine, bodies } = await connect();
    expect(engine.info.capabilities.grammar).toBe(true);
    const gbnf = 'root ::= <[200005]> "final" <[200008]> [0-9]{1,3}\n';
    const run = await collectRun(
      engine,
      request({ grammar: { gbnf }, ignoreStopTokens: true, minTokens: 4 }),
    );
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200002 });
    expect(bodies[0]).toMatchObject({
      stop_token_ids: [200002, 200012],
      structured_outputs: {
        grammar:
          'root ::= _harmony ( "<|call|>" )?\n_harmony ::= "<|channel|>" "final" "<|message|>" [0-9]{1,3}\n',
      },
    });
    expect(bodies[0]).not.toHaveProperty("min_tokens");
    expect(bodies[0]).not.toHaveProperty("guided_grammar");
  });

  it("sends no structured_outputs without a grammar, and keeps min_tokens and ignored stops then", async () => {
    const { engine, bodies } = await connect();
    await collectRun(engine, request({ ignoreStopTokens: true, minTokens: 4 }));
    expect(bodies[0]).toMatchObject({ stop_token_ids: [], min_tokens: 4 });
    expect(bodies[0]).not.toHaveProperty("structured_outputs");
  });

  it("refuses, before anything is sent, a grammar xgrammar cannot express (a negated token reference)", async () => {
    const { engine, bodies } = await connect();
    const gbnf = 'root ::= !<[200007]> "x"\n';
    await expect(collectRun(engine, request({ grammar: { gbnf } }))).rejects.toMatchObject({
      code: "engine_error",
      retryable: false,
    });
    expect(bodies).toHaveLength(0);
  });

  it("takes no grammar from this server as upstream, whose /v1/completions has no structured_outputs", async () => {
    const ours = { id: "gpt-oss-tiny", owned_by: "openai", random_weights: true, context_length: 2048 };
    const { engine, bodies } = await connect(ours);
    expect(engine.info.capabilities.grammar).toBe(false);
    const gbnf = 'root ::= <[200005]> "final" <[200008]> [0-9]{1,3}\n';
    await expect(collectRun(engine, request({ grammar: { gbnf } }))).rejects.toMatchObject({
      code: "engine_error",
    });
    expect(bodies).toHaveLength(0);
  });
});
