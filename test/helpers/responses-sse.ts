/**
 * Responses API test helpers: named SSE events parsed from a body, and scripted harmony outputs for
 * the FakeEngine (a test double for the model) that record the prompts it was given.
 */
import type { GenerationRequest } from "../../src/engines/engine.ts";
import { getHarmonyTokenizer } from "../../src/harmony/tokenizer.ts";

export interface NamedEvent {
  event: string;
  data: any;
}

/** Parses `event: <name>\ndata: <json>\n\n` frames; every frame must carry both lines. */
export function sseEvents(body: string): NamedEvent[] {
  return body
    .split("\n\n")
    .filter((frame) => frame.trim() !== "")
    .map((frame) => {
      const lines = frame.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
      const data = lines.find((l) => l.startsWith("data: "))?.slice(6);
      if (event === undefined || data === undefined) throw new Error(`malformed SSE frame: ${frame}`);
      return { event, data: JSON.parse(data) };
    });
}

/** Event types with consecutive repeats collapsed: the shape of a stream, independent of token count. */
export function eventShape(events: readonly NamedEvent[]): string[] {
  const shape: string[] = [];
  for (const e of events) if (shape.at(-1) !== e.event) shape.push(e.event);
  return shape;
}

export const WEATHER_CALL =
  "<|channel|>analysis<|message|>Need the weather tool for Paris.<|end|>" +
  '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>';

export const FINAL_ANSWER =
  "<|channel|>analysis<|message|>Answer from the tool result.<|end|>" +
  "<|start|>assistant<|channel|>final<|message|>It is 20 degrees in Paris.<|return|>";

/**
 * A FakeEngine script that answers with `pick(promptText)`'s harmony text and records every prompt
 * (decoded with control tokens spelled out) for assertions.
 */
export class RecordingScriptForTest {
  readonly prompts: string[] = [];
  readonly promptLengths: number[] = [];
  readonly #pick: (prompt: string) => string;

  constructor(pick: (prompt: string) => string) {
    this.#pick = pick;
  }

  readonly script = (req: GenerationRequest): readonly number[] => {
    const tok = getHarmonyTokenizer();
    const prompt = tok.decode(req.promptTokens);
    this.prompts.push(prompt);
    this.promptLengths.push(req.promptTokens.length);
    return tok.encodeWithSpecials(this.#pick(prompt));
  };
}
