/**
 * vLLM's dialect with a constraint, against a vLLM test double (a plain node:http server answering
 * as vLLM's /v1/completions does with return_token_ids): the grammar goes as
 * `structured_outputs.grammar` in xgrammar's EBNF (vLLM 0.10.2+, the releases with
 * return_token_ids), with the stop set whole and no min_tokens. The rest of the dialect is covered
 * in upstream-engine.test.ts.
 */
import { describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import { connectToDouble, request, sse } from "./upstream-double-for-test.ts";

const VLLM_MODEL = { id: "openai/gpt-oss-20b", owned_by: "vllm", max_model_len: 4096 };

/**
 * vLLM as a double (or, with this server's model entry, a double of this server, which speaks the
 * same dialect): every completion streams the ids [10, 200002] and stops on 200002.
 */
const connect = (model: Record<string, unknown> = VLLM_MODEL) =>
  connectToDouble({
    model,
    path: "/v1/completions",
    handler: (_body, res) =>
      sse(res, [
        {
          choices: [
            { index: 0, text: "", token_ids: [10, 200002], finish_reason: "stop", stop_reason: 200002 },
          ],
        },
      ]),
  });

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
