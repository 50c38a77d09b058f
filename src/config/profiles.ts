/**
 * The three v4.5.1 profiles, with the seed's values, made to act: each field here is read by the
 * code named in its comment. `auto` is not a profile of its own; see pickAutoProfile.
 */

export const PROFILE_NAMES = ["latency_first", "quality_first", "balanced"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Profile {
  name: ProfileName;
  description: string;
  /** Preferred model size; routing falls back to what is served (serving/model-router.ts). */
  model: "20b" | "120b";
  /** Reported GPU mode for this profile (v4.5.1 value); the engine's real mode is in /health. */
  gpuMode: "pipeline" | "tensor";
  /** Max requests of this profile generating at once (scheduler). */
  maxBatchSize: number;
  /**
   * While the engine is decoding, how long the scheduler gathers arriving prompts so their prefills
   * run as one batch (scheduler). An idle engine starts a prompt at once.
   */
  prefillWindowMs: number;
  /** Decode gathering window (reported; the engine batches every decode step). */
  decodeWindowMs: number;
  /**
   * v4.5.1's max_new_tokens: the default max_tokens under `--default-max-tokens profile`, and what
   * `profile: auto` compares a request's max_tokens with. Never a cap on what a client asks for
   * (serving/completion-budget.ts).
   */
  maxNewTokens: number;
  /** Default temperature when the request gives none (serving). */
  temperature: number;
  /** End-to-end deadline, queue wait included (scheduler): 504 in queue, finish "length"... see scheduler. */
  timeoutMs: number;
  /** Queue priority: lower is served first (scheduler). */
  priority: number;
}

export const PROFILES: Readonly<Record<ProfileName, Readonly<Profile>>> = Object.freeze({
  latency_first: Object.freeze({
    name: "latency_first",
    description: "Short answers fast: 20b, small batches, first in the queue (max_new_tokens 512).",
    model: "20b",
    gpuMode: "pipeline",
    maxBatchSize: 32,
    prefillWindowMs: 4,
    decodeWindowMs: 2,
    maxNewTokens: 512,
    temperature: 0.7,
    timeoutMs: 60_000,
    priority: 0,
  }),
  quality_first: Object.freeze({
    name: "quality_first",
    description:
      "Long, careful answers: 120b when served (else 20b), generous timeout (max_new_tokens 2048).",
    model: "120b",
    gpuMode: "tensor",
    maxBatchSize: 8,
    prefillWindowMs: 12,
    decodeWindowMs: 8,
    maxNewTokens: 2048,
    temperature: 0.8,
    timeoutMs: 300_000,
    priority: 2,
  }),
  balanced: Object.freeze({
    name: "balanced",
    description: "Mixed workloads: 20b, the largest batches (max_new_tokens 1024).",
    model: "20b",
    gpuMode: "pipeline",
    maxBatchSize: 48,
    prefillWindowMs: 6,
    decodeWindowMs: 4,
    maxNewTokens: 1024,
    temperature: 0.75,
    timeoutMs: 120_000,
    priority: 1,
  }),
});

export function isProfileName(value: string): value is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(value);
}

/**
 * `profile: "auto"`: short prompt and short answer → latency_first; long answer requested →
 * quality_first; otherwise balanced. Thresholds are in tokens.
 */
export function pickAutoProfile(promptTokens: number, requestedMaxTokens: number | undefined): ProfileName {
  if (requestedMaxTokens !== undefined && requestedMaxTokens > PROFILES.balanced.maxNewTokens)
    return "quality_first";
  if (promptTokens <= 1024 && (requestedMaxTokens ?? 0) <= 256) return "latency_first";
  return "balanced";
}
