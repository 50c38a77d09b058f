/**
 * The fake engine's script when the server runs with `--engine fake`: a well-formed harmony answer
 * (an analysis message, then a final one), tokenized with the real tokenizer, so that every layer
 * above the engine (harmony parsing, reasoning/content deltas, SSE) does its real work. Benchmarks
 * of the HTTP layer and the gate use it; it is not a model.
 */
import type { GenerationRequest } from "../engine.ts";
import { getHarmonyTokenizer } from "../../harmony/tokenizer.ts";

const DEMO_HARMONY =
  "<|channel|>analysis<|message|>The user wants an answer; this scripted engine always gives the same one." +
  "<|end|><|start|>assistant<|channel|>final<|message|>" +
  "This is the fake engine of gpt-oss-server: a scripted answer, not a model. " +
  "It streams token by token through the real harmony parser and HTTP layer, so tests and benchmarks " +
  "exercise everything but the model itself. ".repeat(4) +
  "<|return|>";

export function demoHarmonyScript(): (req: GenerationRequest) => readonly number[] {
  const tokens = getHarmonyTokenizer().encodeWithSpecials(DEMO_HARMONY);
  return () => tokens;
}
