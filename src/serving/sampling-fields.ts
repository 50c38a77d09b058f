/**
 * The sampling fields Chat Completions and legacy Completions share, with OpenAI's bounds, and what
 * they become: one schema fragment, one logit_bias and stop parser, one SamplingParams builder.
 */
import { z } from "zod";
import type { Profile } from "../config/profiles.ts";
import type { SamplingParams } from "../engines/engine.ts";
import { ServerError } from "../errors/server-error.ts";
import { HARMONY_VOCAB_SIZE } from "../harmony/special-tokens.ts";

/** Spread into a wire schema (z.object({...samplingFields, ...})). */
export const samplingFields = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z
    .record(z.string().regex(/^\d+$/, "logit_bias keys are token ids"), z.number().min(-100).max(100))
    .nullish(),
};

/** A bias at or below this bans its token (OpenAI: -100 "should result in a ban"). */
const BAN_BIAS = -100;

/**
 * logit_bias as token id → bias: every id inside the vocabulary, and not every token banned (that
 * leaves the sampler nothing: refused here, before a stream starts).
 */
export function parseLogitBias(wire: Record<string, number> | null | undefined): Map<number, number> {
  const logitBias = new Map<number, number>();
  for (const [key, bias] of Object.entries(wire ?? {})) {
    const id = Number(key);
    if (id >= HARMONY_VOCAB_SIZE) {
      throw new ServerError(
        "invalid_value",
        `logit_bias token id ${id} is outside the vocabulary (< ${HARMONY_VOCAB_SIZE})`,
        { param: "logit_bias" },
      );
    }
    logitBias.set(id, bias);
  }
  if (logitBias.size >= HARMONY_VOCAB_SIZE && [...logitBias.values()].every((b) => b <= BAN_BIAS)) {
    throw new ServerError(
      "invalid_value",
      `logit_bias bans every token (${HARMONY_VOCAB_SIZE}): nothing could be generated`,
      { param: "logit_bias" },
    );
  }
  return logitBias;
}

/** `stop` as a list without empty strings (an empty stop string would end every answer at once). */
export function parseStop(wire: string | string[] | null | undefined): string[] {
  if (wire === null || wire === undefined) return [];
  return (typeof wire === "string" ? [wire] : wire).filter((s) => s !== "");
}

/** What the engine samples with: the request's values, the profile's temperature by default. */
export function samplingParams(
  request: {
    temperature?: number;
    topP: number;
    seed?: number;
    presencePenalty: number;
    frequencyPenalty: number;
  },
  profile: Readonly<Profile>,
  logitBias: ReadonlyMap<number, number>,
): SamplingParams {
  return {
    temperature: request.temperature ?? profile.temperature,
    topP: request.topP,
    seed: request.seed,
    presencePenalty: request.presencePenalty,
    frequencyPenalty: request.frequencyPenalty,
    logitBias,
  };
}
