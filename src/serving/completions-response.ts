/**
 * Completion events → the `text_completion` wire forms: one object (non-streaming), or chunks of
 * the same shape with a piece of text each, a last one with finish_reason, then (with
 * stream_options.include_usage) a usage chunk with empty choices, as OpenAI sends them. vLLM's
 * `stop_reason` is on every choice; with `return_token_ids`, vLLM's `token_ids` too (streamed: each
 * chunk's own, so a chunk that carries ids and no text is still sent) and `prompt_token_ids` (streamed:
 * on the first chunk).
 */
import type { ServerExtrasWire } from "../protocol/chat.ts";
import type {
  CompletionChoiceWire,
  CompletionFinishReasonWire,
  CompletionLogprobsWire,
  CompletionWire,
} from "../protocol/completions.ts";
import { SYSTEM_FINGERPRINT } from "./chat-response.ts";
import type { CompletionEvent, CompletionToken, PreparedCompletion } from "./completions-pipeline.ts";
import { tokenString } from "./token-logprobs.ts";

function extrasOf(prepared: PreparedCompletion): ServerExtrasWire {
  return {
    chosen_engine: prepared.routed.model.engineType,
    profile: prepared.profile.name,
    request_id: prepared.requestId,
    ...(prepared.routed.fallback !== undefined ? { model_fallback: prepared.routed.fallback } : {}),
  };
}

/** OpenAI's legacy logprobs: parallel arrays; each top map holds the sampled token too (as vLLM's). */
export class CompletionLogprobs {
  #offset = 0;

  /** `offset`: characters of text before the first token (the echoed prompt). */
  constructor(offset = 0) {
    this.#offset = offset;
  }

  wire(tokens: readonly CompletionToken[]): CompletionLogprobsWire {
    const out: CompletionLogprobsWire = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for (const t of tokens) {
      out.tokens.push(tokenString(t.token));
      out.token_logprobs.push(t.logprob.logprob);
      const top: Record<string, number> = {};
      for (const alt of t.logprob.top) top[tokenString(alt.token)] ??= alt.logprob;
      top[tokenString(t.token)] ??= t.logprob.logprob;
      out.top_logprobs?.push(top);
      out.text_offset.push(this.#offset);
      this.#offset += t.text.length;
    }
    return out;
  }
}

function envelope(prepared: PreparedCompletion, choices: CompletionChoiceWire[]): CompletionWire {
  return {
    id: `cmpl-${prepared.requestId}`,
    object: "text_completion",
    created: prepared.created,
    model: prepared.routed.model.id,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices,
    ...extrasOf(prepared),
  };
}

/** Collects events; undefined when the request was cancelled before it finished. */
export async function collectCompletion(
  prepared: PreparedCompletion,
  events: AsyncIterable<CompletionEvent>,
): Promise<CompletionWire | undefined> {
  let text = "";
  const tokens: CompletionToken[] = [];
  const tokenIds: number[] = [];
  let finish: Extract<CompletionEvent, { type: "finish" }> | undefined;
  for await (const e of events) {
    if (e.type === "cancelled") return undefined;
    if (e.type === "finish") finish = e;
    else {
      text += e.text;
      tokenIds.push(...e.tokenIds);
      if (e.tokens !== undefined) tokens.push(...e.tokens);
    }
  }
  if (finish === undefined) return undefined;
  const logprobs = prepared.request.logprobs !== undefined ? new CompletionLogprobs().wire(tokens) : null;
  const choice: CompletionChoiceWire = {
    index: 0,
    text,
    finish_reason: finish.reason,
    logprobs,
    stop_reason: finish.stopReason,
  };
  if (prepared.request.returnTokenIds) {
    choice.token_ids = tokenIds;
    choice.prompt_token_ids = [...prepared.generation.promptTokens];
  }
  return { ...envelope(prepared, [choice]), usage: finish.usage };
}

/** The streaming form, chunk by chunk. */
export class CompletionChunker {
  readonly #prepared: PreparedCompletion;
  readonly #logprobs = new CompletionLogprobs();
  #promptIdsSent = false;

  constructor(prepared: PreparedCompletion) {
    this.#prepared = prepared;
  }

  #chunk(
    text: string,
    finishReason: CompletionFinishReasonWire | null,
    logprobs: CompletionLogprobsWire | null,
    tokenIds: readonly number[],
    stopReason: number | string | null = null,
  ) {
    const choice: CompletionChoiceWire = {
      index: 0,
      text,
      finish_reason: finishReason,
      logprobs,
      stop_reason: stopReason,
    };
    if (this.#prepared.request.returnTokenIds) {
      choice.token_ids = [...tokenIds];
      if (!this.#promptIdsSent) choice.prompt_token_ids = [...this.#prepared.generation.promptTokens];
      this.#promptIdsSent = true;
    }
    const chunk = envelope(this.#prepared, [choice]);
    if (this.#prepared.request.includeUsage) chunk.usage = null;
    return chunk;
  }

  /** The chunks for one event (none for "cancelled", or for a piece with no text, logprobs or ids to send). */
  chunks(e: CompletionEvent): CompletionWire[] {
    switch (e.type) {
      case "text": {
        const logprobs = e.tokens !== undefined ? this.#logprobs.wire(e.tokens) : null;
        const ids = this.#prepared.request.returnTokenIds && e.tokenIds.length > 0;
        return e.text === "" && logprobs === null && !ids
          ? []
          : [this.#chunk(e.text, null, logprobs, e.tokenIds)];
      }
      case "finish": {
        const last = this.#chunk("", e.reason, null, [], e.stopReason);
        if (!this.#prepared.request.includeUsage) return [last];
        return [last, { ...envelope(this.#prepared, []), usage: e.usage }];
      }
      case "cancelled":
        return [];
    }
  }
}
