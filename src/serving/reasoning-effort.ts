/**
 * Reasoning effort as clients send it → the three levels gpt-oss knows. gpt-oss's harmony system
 * message takes `Reasoning: low|medium|high` (harmony.md); GPT-5 clients also send `none`,
 * `minimal` and `xhigh`, which we map to the nearest level instead of refusing, and report the
 * mapping (x-gptoss-reasoning-effort) so a client can see what it got. Used by both wire parsers.
 */

/** Every effort a request may carry (OpenAI's reasoning_effort values, GPT-5's included). */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;
export type RequestedEffort = (typeof REASONING_EFFORTS)[number];

/** The levels gpt-oss was trained with. */
export type ReasoningEffort = "low" | "medium" | "high";

/** The response header that reports the effort served (and what was asked when it differs). */
export const REASONING_EFFORT_HEADER = "x-gptoss-reasoning-effort";

const NEAREST: Readonly<Record<RequestedEffort, ReasoningEffort>> = {
  // gpt-oss cannot skip its analysis channel: `none` gets the least reasoning it has.
  none: "low",
  minimal: "low",
  low: "low",
  medium: "medium",
  high: "high",
  xhigh: "high",
};

/**
 * The ServingRequest fields for a requested effort: the level served, and the asked value when it
 * was mapped. No effort asked → medium (harmony's default).
 */
export function reasoningEffortFields(asked: RequestedEffort | null | undefined): {
  reasoningEffort: ReasoningEffort;
  reasoningEffortAsked?: RequestedEffort;
} {
  if (asked === null || asked === undefined) return { reasoningEffort: "medium" };
  const served = NEAREST[asked];
  return served === asked
    ? { reasoningEffort: served }
    : { reasoningEffort: served, reasoningEffortAsked: asked };
}

/** The header value: `low`, or `low (asked minimal)` when the request's effort was mapped. */
export function reasoningEffortHeader(served: ReasoningEffort, asked: RequestedEffort | undefined): string {
  return asked === undefined || asked === served ? served : `${served} (asked ${asked})`;
}
