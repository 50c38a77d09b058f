/**
 * How many tokens a request may generate (issue 10, "max_tokens semantics"):
 * - the client's max_tokens / max_completion_tokens / max_output_tokens wins, up to the context
 *   (prompt + max_tokens beyond the context is a 400 before this, OpenAI's rule);
 * - a request that sends none gets `--default-max-tokens`: by default the context the prompt leaves,
 *   as OpenAI and vLLM do, so an agent's turn (Codex sends no max_output_tokens) is never cut at a
 *   profile's 512; `profile` restores the profile's max_new_tokens as the default;
 * - `--max-tokens-cap` is the operator's cap over both.
 * An answer cut by any of these ends with finish_reason "length" (Responses: incomplete_details).
 */
import type { Profile } from "../config/profiles.ts";
import type { ServerConfig } from "../config/schema.ts";

export interface CompletionBudget {
  maxTokens: number;
  /** Where the number came from: the client, the default, or the operator's cap. */
  source: "request" | "default" | "cap";
}

/** The response header that reports a budget the server chose (a default, or the operator's cap). */
export const MAX_TOKENS_HEADER = "x-gptoss-max-tokens";

export function completionBudget(
  config: Pick<ServerConfig, "defaultMaxTokens" | "maxTokensCap">,
  profile: Pick<Profile, "maxNewTokens">,
  requested: number | undefined,
  contextLeft: number,
): CompletionBudget {
  const fallback =
    config.defaultMaxTokens === "context"
      ? contextLeft
      : config.defaultMaxTokens === "profile"
        ? profile.maxNewTokens
        : config.defaultMaxTokens;
  const wanted = Math.min(requested ?? fallback, contextLeft);
  const cap = config.maxTokensCap;
  if (cap !== undefined && cap < wanted) return { maxTokens: cap, source: "cap" };
  return { maxTokens: wanted, source: requested !== undefined ? "request" : "default" };
}

/** The header value: `8000 (default: context left)`, `1000 (asked 2000, --max-tokens-cap)`. */
export function budgetHeader(
  budget: CompletionBudget,
  requested: number | undefined,
  config: Pick<ServerConfig, "defaultMaxTokens">,
): string | undefined {
  if (budget.source === "request") return undefined;
  if (budget.source === "cap") {
    return `${budget.maxTokens} (${requested !== undefined ? `asked ${requested}, ` : ""}--max-tokens-cap)`;
  }
  const mode = config.defaultMaxTokens;
  return `${budget.maxTokens} (default: ${mode === "context" ? "context left" : mode === "profile" ? "profile" : "--default-max-tokens"})`;
}
