/**
 * Legacy Completions over a raw prompt, wire-independent: tokenize (or take) the prompt, pick the
 * profile and model, admit to the scheduler like chat, then turn token events into text events.
 * No harmony parsing: the client rendered the prompt and reads the raw output, control tokens
 * spelled out (`<|channel|>final<|message|>...`), except the stop token that ended the generation
 * (<|return|>, <|call|> or <|endoftext|>, gpt-oss's end-of-generation tokens as vLLM stops on them,
 * or one of the request's `stop_token_ids`). Every generated token's id rides on the text events,
 * the stop token's included, for vLLM's `return_token_ids`.
 */
import { effectiveProfiles } from "../config/effective-profiles.ts";
import type { ServerConfig } from "../config/schema.ts";
import { isProfileName, pickAutoProfile, PROFILE_NAMES, type Profile } from "../config/profiles.ts";
import type { GenerationRequest, TokenLogprob } from "../engines/engine.ts";
import { completionBudget } from "./completion-budget.ts";
import { ServerError } from "../errors/server-error.ts";
import { FIRST_SPECIAL_TOKEN_ID, SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { getHarmonyTokenizer } from "../harmony/tokenizer.ts";
import type { CompletionFinishReasonWire, CompletionUsageWire } from "../protocol/completions.ts";
import { samplingParams } from "./sampling-fields.ts";
import type { Ticket } from "../scheduler/scheduler-types.ts";
import type { CompletionRequest } from "./completions-request.ts";
import type { ModelPool, RoutedModel } from "./model-pool.ts";
import type { RenderPool } from "./render-pool.ts";
import type { RequestTracker } from "./request-tracker.ts";
import { StopStringMatcher } from "./stop-strings.ts";

export interface CompletionDeps {
  config: ServerConfig;
  pool: ModelPool;
  /** Tokenizes long prompt text off the HTTP thread. */
  renderPool: RenderPool;
}

/** gpt-oss's end-of-generation tokens (its generation_config eos_token_id). */
export const COMPLETION_STOP_TOKENS: readonly number[] = Object.freeze([
  SPECIAL_TOKENS.return,
  SPECIAL_TOKENS.endOfText,
  SPECIAL_TOKENS.call,
]);

export interface PreparedCompletion {
  requestId: string;
  created: number;
  request: CompletionRequest;
  profile: Profile;
  routed: RoutedModel;
  generation: GenerationRequest;
  /** The prompt's text (for `echo`). */
  promptText: string;
}

/** One generated token with its logprobs (when asked for) and its text. */
export interface CompletionToken {
  token: number;
  text: string;
  logprob: TokenLogprob;
}

/**
 * `text`: a piece of text, and the ids of the tokens it came from (`tokenIds`: every generated token
 * exactly once, in order, even when its text is empty or held back; none for the echoed prompt).
 * `finish`: `stopReason` is vLLM's: the stop token id or stop string that ended it, else null.
 */
export type CompletionEvent =
  | { type: "text"; text: string; tokenIds: readonly number[]; tokens?: CompletionToken[] }
  | {
      type: "finish";
      reason: CompletionFinishReasonWire;
      stopReason: number | string | null;
      usage: CompletionUsageWire;
    }
  | { type: "cancelled" };

/**
 * The tokens that end the generation, as vLLM builds its stop set: gpt-oss's end-of-generation
 * tokens (unless `ignore_eos`) plus the request's `stop_token_ids`, which `ignore_eos` leaves alone.
 */
function stopTokensFor(request: CompletionRequest): readonly number[] {
  const eos = request.ignoreEos ? [] : COMPLETION_STOP_TOKENS;
  return [...new Set([...eos, ...request.stopTokenIds])];
}

function profileFor(config: ServerConfig, request: CompletionRequest, promptTokens: number): Profile {
  const name = request.profile ?? config.profile;
  if (name !== "auto" && !isProfileName(name)) {
    throw new ServerError(
      "unknown_profile",
      `unknown profile '${name}'; valid profiles: ${[...PROFILE_NAMES, "auto"].join(", ")}`,
      { param: "profile" },
    );
  }
  const picked = name === "auto" ? pickAutoProfile(promptTokens, request.maxTokens) : name;
  return effectiveProfiles(config)[picked];
}

/** The most tokens any served model's context holds. */
function largestContext(deps: CompletionDeps): number {
  let limit = 0;
  for (const m of deps.pool.models) limit = Math.max(limit, m.engine.info.contextSize);
  return limit > 0 ? limit : deps.config.contextSize;
}

export async function prepareCompletion(
  deps: CompletionDeps,
  request: CompletionRequest,
  requestId: string,
  tracker: RequestTracker,
): Promise<PreparedCompletion> {
  const tokenizer = getHarmonyTokenizer();
  const promptTokens =
    "text" in request.prompt
      ? await deps.renderPool.encodeRaw(request.prompt.text, largestContext(deps))
      : request.prompt.tokens;
  if (promptTokens.length === 0) {
    throw new ServerError("invalid_value", "prompt: the prompt is empty", { param: "prompt" });
  }
  const profile = profileFor(deps.config, request, promptTokens.length);
  const routed = deps.pool.route(request.model, profile);
  const engine = routed.model.engine;
  tracker.started(profile.name, routed.model.id, routed.model.engineType);
  tracker.promptTokens = promptTokens.length;
  if (engine.info.capabilities.parsedOutput === true) {
    throw new ServerError(
      "invalid_value",
      `/v1/completions needs an engine that generates tokens; model ${routed.model.id} is served by one that returns parsed chat output`,
      { param: "model" },
    );
  }
  if (request.logprobs !== undefined && engine.info.capabilities.logprobs !== true) {
    throw new ServerError(
      "invalid_value",
      `logprobs: the ${engine.info.name} engine cannot report logprobs; the native engine (--core native) can`,
      { param: "logprobs" },
    );
  }
  const contextSize = engine.info.contextSize;
  const requested = request.maxTokens;
  if (promptTokens.length + (requested ?? 1) > contextSize) {
    throw new ServerError(
      "context_length_exceeded",
      `This model's context is ${contextSize} tokens per request; the prompt has ${promptTokens.length} tokens` +
        (requested !== undefined ? ` and max_tokens asks for ${requested}` : "") +
        ". Shorten the prompt or lower max_tokens.",
      { param: requested !== undefined ? "max_tokens" : "prompt" },
    );
  }
  // An explicit max_tokens is served up to the context; the profile supplies the default (a raw
  // prompt has no harmony end to stop at, so "the context left" would be a poor default here);
  // --max-tokens-cap bounds both, as for chat (completion-budget.ts).
  const { maxTokens } = completionBudget(
    { defaultMaxTokens: "profile", maxTokensCap: deps.config.maxTokensCap },
    profile,
    requested,
    contextSize - promptTokens.length,
  );
  const generation: GenerationRequest = {
    id: requestId,
    promptTokens,
    sampling: samplingParams(request, profile, request.logitBias),
    stopTokens: stopTokensFor(request),
    maxTokens,
    // ignore_eos is in the stop set above; the flag keeps the engines' own reading of "no stops".
    ignoreStopTokens: request.ignoreEos && request.stopTokenIds.length === 0,
    minTokens: request.minTokens,
    priority: profile.priority,
    ...(request.logprobs !== undefined ? { logprobs: request.logprobs } : {}),
  };
  return {
    requestId,
    created: Math.floor(Date.now() / 1000),
    request,
    profile,
    routed,
    generation,
    promptText: "text" in request.prompt ? request.prompt.text : tokenizer.decode(promptTokens),
  };
}

export function admitCompletion(prepared: PreparedCompletion, signal: AbortSignal): Promise<Ticket> {
  return prepared.routed.model.scheduler.admit(
    { id: prepared.requestId, profile: prepared.profile, request: prepared.generation },
    signal,
  );
}

/**
 * The generation behind `ticket` as text events. A stop token's text is held until the next token
 * shows it did not end the generation (min_tokens, ignore_eos); the one that ended it is left out of
 * the text (as vLLM leaves it out) but its id is sent. Stop strings end the text (and the
 * generation) where they match; the ids run up to the token that completed the match.
 */
export async function* completionEvents(
  prepared: PreparedCompletion,
  ticket: Ticket,
  tracker: RequestTracker,
): AsyncGenerator<CompletionEvent> {
  const tokenizer = getHarmonyTokenizer();
  const decoder = tokenizer.createTextDecoder();
  const stops = new StopStringMatcher(prepared.request.stop);
  const stopSet = new Set(prepared.generation.stopTokens);
  const skipSpecial = prepared.request.skipSpecialTokens;
  let held: { token: number; logprob: TokenLogprob | undefined } | undefined;
  let stopped = false;
  let generated = 0;

  function* emit(token: number, logprob: TokenLogprob | undefined): Generator<CompletionEvent> {
    // skip_special_tokens: a control token adds no text (vLLM's detokenizer skips added special tokens).
    const text = skipSpecial && token >= FIRST_SPECIAL_TOKEN_ID ? "" : decoder.push(token);
    const r = stops.push(text);
    if (r.stopped) stopped = true;
    yield logprob !== undefined
      ? { type: "text", text: r.emit, tokenIds: [token], tokens: [{ token, text, logprob }] }
      : { type: "text", text: r.emit, tokenIds: [token] };
  }

  if (prepared.request.echo) yield { type: "text", text: prepared.promptText, tokenIds: [] };
  for await (const event of ticket) {
    if (event.type === "finish") {
      if (event.reason === "cancelled" && !stopped) {
        yield { type: "cancelled" };
        return;
      }
      let stopReason: number | string | null = null;
      if (!stopped) {
        // The held stop token is the one that ended the generation unless the cap did: then only
        // its id is sent (its text and logprob are left out, as the stop token's always were).
        if (held !== undefined) {
          if (event.stopToken === held.token) yield { type: "text", text: "", tokenIds: [held.token] };
          else yield* emit(held.token, held.logprob);
        }
        const tail = stops.push(decoder.flush()).emit + stops.flush();
        if (tail !== "") yield { type: "text", text: tail, tokenIds: [] };
      }
      if (stopped) stopReason = stops.matched ?? null;
      else if (event.reason === "stop" && event.stopToken !== undefined) stopReason = event.stopToken;
      const completion = stopped ? generated : event.usage.completionTokens;
      tracker.cachedTokens = event.usage.cachedTokens;
      tracker.completionTokens = completion;
      const reason = event.reason === "length" && !stopped ? "length" : "stop";
      tracker.finishReason = reason;
      yield {
        type: "finish",
        reason,
        stopReason,
        usage: {
          prompt_tokens: event.usage.promptTokens,
          completion_tokens: completion,
          total_tokens: event.usage.promptTokens + completion,
          prompt_tokens_details: { cached_tokens: event.usage.cachedTokens },
        },
      };
      return;
    }
    if (stopped) continue;
    // Refused at prepare (capabilities.parsedOutput): an engine that breaks its word is failing.
    if (event.type === "parsed")
      throw new ServerError("engine_error", "the engine returned parsed output to a raw prompt");
    tracker.firstToken();
    for (let i = 0; i < event.tokens.length; i++) {
      const token = event.tokens[i]!;
      if (held !== undefined) {
        yield* emit(held.token, held.logprob);
        held = undefined;
        // A stop string completed by the held token: this token was never part of the output.
        if (stopped) {
          ticket.stop();
          break;
        }
      }
      generated++;
      if (stopSet.has(token)) held = { token, logprob: event.logprobs?.[i] };
      else yield* emit(token, event.logprobs?.[i]);
      if (stopped) {
        ticket.stop();
        break;
      }
    }
  }
}
