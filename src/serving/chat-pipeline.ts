/**
 * Chat Completions, wire-independent core: validate and route a request, render it with harmony,
 * then turn the scheduler's token events into chat events (reasoning / content / tool calls /
 * finish) through the incremental harmony parser. chat-response.ts and chat-stream.ts render those
 * events as the two OpenAI wire forms.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { effectiveProfiles } from "../config/effective-profiles.ts";
import type { ServerConfig } from "../config/schema.ts";
import {
  PROFILE_NAMES,
  isProfileName,
  pickAutoProfile,
  type Profile,
  type ProfileName,
} from "../config/profiles.ts";
import type { GenerationRequest, GenerationUsage, TokenLogprob } from "../engines/engine.ts";
import { ServerError } from "../errors/server-error.ts";
import { HarmonyStreamParser } from "../harmony/parser.ts";
import { HARMONY_STOP_TOKENS } from "../harmony/render.ts";
import { isSpecialTokenId, SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { Ticket } from "../scheduler/scheduler-types.ts";
import type { ServingRequest } from "./serving-request.ts";
import type { RenderPool } from "./render-pool.ts";
import type { ModelPool, RoutedModel } from "./model-pool.ts";
import type { RequestTracker } from "./request-tracker.ts";
import { StopStringMatcher } from "./stop-strings.ts";
import { buildOutputConstraint, type OutputConstraint } from "./harmony-grammar.ts";
import { assertSupportedSchema } from "./json-schema-support.ts";
import { samplesRandomWeights, steerRandomWeights } from "./random-weights-steering.ts";
import { budgetHeader, completionBudget, MAX_TOKENS_HEADER } from "./completion-budget.ts";
import { REASONING_EFFORT_HEADER, reasoningEffortHeader } from "./reasoning-effort.ts";

export interface ChatDeps {
  config: ServerConfig;
  pool: ModelPool;
  metrics: ServerMetrics;
  logger: Logger;
  /** Renders large prompts off the HTTP thread. */
  renderPool: RenderPool;
}

/** The most tokens any served model's context holds: no prompt longer than this can be served. */
export function promptTokenLimit(deps: Pick<ChatDeps, "pool" | "config">): number {
  let limit = 0;
  for (const m of deps.pool.models) limit = Math.max(limit, m.engine.info.contextSize);
  return limit > 0 ? limit : deps.config.contextSize;
}

export interface PreparedChat {
  requestId: string;
  created: number;
  request: ServingRequest;
  profile: Profile;
  routed: RoutedModel;
  generation: GenerationRequest;
  /**
   * Response headers that report what the server chose for this request: the reasoning effort
   * served (and what was asked when it was mapped), a completion budget the client did not set.
   */
  headers: Record<string, string>;
}

/**
 * Why an answer ended, in the pipeline's words: "tool_calls" when it ended on a call, "length" when
 * the token cap cut it (a call included). Each wire says it its own way (chat-response.ts,
 * responses-output.ts).
 */
export type AnswerEnd = "stop" | "length" | "tool_calls";

/** The engine's usage as served (a stop string counts only the tokens before it), plus reasoning. */
export interface AnswerUsage extends GenerationUsage {
  /** Completion tokens spent on the analysis channel. */
  reasoningTokens: number;
}

export type ChatEvent =
  | { type: "reasoning"; text: string }
  | { type: "content"; text: string }
  | { type: "tool-call"; index: number; id: string; name: string }
  | { type: "tool-arguments"; index: number; text: string }
  | { type: "finish"; reason: AnswerEnd; usage: AnswerUsage }
  /** The logprobs of the answer's (final channel's) tokens, after the events of their text. */
  | { type: "logprobs"; tokens: { token: number; logprob: TokenLogprob }[] }
  | { type: "cancelled" };

function resolveProfileName(requested: string | undefined, fallback: string): ProfileName | "auto" {
  const name = requested ?? fallback;
  if (name === "auto" || isProfileName(name)) return name;
  throw new ServerError(
    "unknown_profile",
    `unknown profile '${name}'; valid profiles: ${[...PROFILE_NAMES, "auto"].join(", ")}`,
    { param: "profile" },
  );
}

/**
 * Picks the profile and model, renders the prompt, checks the context. Throws ServerError for bad
 * input. `request` comes from a wire parser (chat-request.ts; the Responses API's parser next).
 */
export async function prepareChat(
  deps: ChatDeps,
  request: ServingRequest,
  requestId: string,
  tracker: RequestTracker,
): Promise<PreparedChat> {
  const profileName = resolveProfileName(request.profile, deps.config.profile);
  // Routing needs the prompt length (profile auto), so the model is not known yet: any prompt
  // longer than the largest served context is refused while it is being tokenized.
  const rendered = await deps.renderPool.render(request, deps.config.date, promptTokenLimit(deps));
  const promptTokens = rendered.tokens;
  const profile = effectiveProfiles(deps.config)[
    profileName === "auto" ? pickAutoProfile(promptTokens.length, request.maxTokens) : profileName
  ];
  const routed = deps.pool.route(request.model, profile);
  const engine = routed.model.engine;
  tracker.started(profile.name, routed.model.id, routed.model.engineType);
  tracker.promptTokens = promptTokens.length;

  const contextSize = engine.info.contextSize;
  const requested = request.maxTokens;
  const fields = request.fields;
  if (promptTokens.length + (requested ?? 1) > contextSize) {
    throw new ServerError(
      "context_length_exceeded",
      `This model's context is ${contextSize} tokens per request; the prompt has ${promptTokens.length} tokens` +
        (requested !== undefined ? ` and ${fields.maxTokens} asks for ${requested}` : "") +
        `. Shorten the ${fields.messages} or lower ${fields.maxTokens}.`,
      { param: requested !== undefined ? fields.maxTokens : fields.messages },
    );
  }
  const budget = completionBudget(deps.config, profile, requested, contextSize - promptTokens.length);
  const maxTokens = budget.maxTokens;
  const budgetNote = budgetHeader(budget, requested, deps.config);
  const headers: Record<string, string> = {
    [REASONING_EFFORT_HEADER]: reasoningEffortHeader(request.reasoningEffort, request.reasoningEffortAsked),
    ...(budgetNote !== undefined ? { [MAX_TOKENS_HEADER]: budgetNote } : {}),
  };
  if (request.logprobs !== undefined && engine.info.capabilities.logprobs !== true) {
    throw new ServerError(
      "invalid_value",
      `${fields.logprobs}: the ${engine.info.name} engine cannot report logprobs; the native engine (--core native) can`,
      { param: fields.logprobs },
    );
  }
  const constraint = outputConstraint(
    { ...request, answerInsteadOfCalls: samplesRandomWeights(engine.info) },
    engine.info.capabilities.grammar,
  );
  const generation: GenerationRequest = {
    id: requestId,
    promptTokens,
    sampling: {
      temperature: request.temperature ?? profile.temperature,
      topP: request.topP,
      seed: request.seed,
      presencePenalty: request.presencePenalty,
      frequencyPenalty: request.frequencyPenalty,
      logitBias: withBans(
        steerRandomWeights(request.logitBias, samplesRandomWeights(engine.info), constraint !== undefined),
        constraint?.bannedStopTokens ?? [],
      ),
    },
    stopTokens: HARMONY_STOP_TOKENS,
    maxTokens,
    ignoreStopTokens: request.ignoreEos,
    minTokens: request.minTokens,
    priority: profile.priority,
    ...(constraint !== undefined ? { grammar: constraint.grammar } : {}),
    ...(request.logprobs !== undefined ? { logprobs: request.logprobs } : {}),
  };
  return {
    requestId,
    created: Math.floor(Date.now() / 1000),
    request,
    profile,
    routed,
    generation,
    headers,
  };
}

/**
 * The grammar that enforces structured output and tool calls (harmony-grammar.ts), if the request
 * needs one. An engine without grammar support serves plain tool calls unconstrained, but refuses
 * what only a grammar can promise (a JSON answer, a required call).
 */
function outputConstraint(
  request: ServingRequest & { answerInsteadOfCalls: boolean },
  engineHasGrammar: boolean,
): OutputConstraint | undefined {
  // Request parsers have checked the schemas; this re-check covers any parser that did not.
  if (request.responseFormat.type === "json_schema") {
    assertSupportedSchema(request.responseFormat.schema, request.fields.responseFormatSchema);
  }
  const constraint = buildOutputConstraint(request);
  if (constraint === undefined || engineHasGrammar) return constraint;
  if (!constraint.required) return undefined;
  throw new ServerError(
    "invalid_value",
    "this model's engine cannot constrain output, which response_format and a required tool_choice need",
    {
      param:
        request.responseFormat.type !== "text" ? request.fields.responseFormat : request.fields.toolChoice,
    },
  );
}

/** The client's logit bias plus bans (-100) on stop tokens the output must not end with. */
function withBans(bias: ReadonlyMap<number, number>, banned: readonly number[]): ReadonlyMap<number, number> {
  if (banned.length === 0) return bias;
  const merged = new Map(bias);
  for (const token of banned) merged.set(token, -100);
  return merged;
}

export function admitChat(prepared: PreparedChat, signal: AbortSignal): Promise<Ticket> {
  return prepared.routed.model.scheduler.admit(
    { id: prepared.requestId, profile: prepared.profile, request: prepared.generation },
    signal,
  );
}

function newToolCallId(): string {
  return `call_${randomBytes(12).toString("base64url")}`;
}

/**
 * Runs the generation behind `ticket` and yields chat events. Stop strings apply to the final
 * channel only (the answer), never to reasoning.
 */
export async function* chatEvents(
  deps: ChatDeps,
  prepared: PreparedChat,
  ticket: Ticket,
  tracker: RequestTracker,
): AsyncGenerator<ChatEvent> {
  const parser = new HarmonyStreamParser();
  const stops = new StopStringMatcher(prepared.request.stop);
  const modelId = prepared.routed.model.id;
  let toolCalls = 0;
  let stoppedByString = false;
  let generated = 0;
  let parseErrors = 0;
  let firstParseError: string | undefined;
  // No inner generator here: `yield*` would add an async hop to every token.
  try {
    for await (const event of ticket) {
      if (event.type === "finish") {
        if (event.reason === "cancelled" && !stoppedByString) {
          yield { type: "cancelled" };
          return;
        }
        if (!stoppedByString) {
          for (const e of parser.finish().events) yield* toChat(e);
          const tail = stops.flush();
          if (tail !== "") yield { type: "content", text: tail };
        }
        // Tokens are counted as they arrive: a stop string ends generation early, before the engine
        // could report them.
        const completion = stoppedByString ? generated : event.usage.completionTokens;
        tracker.cachedTokens = event.usage.cachedTokens;
        tracker.completionTokens = completion;
        // The token cap wins over a tool call: a call cut mid-arguments is not a call a client can
        // run (its JSON is unterminated), and "tool_calls" would have it fed back as a parse error.
        // A finished call ends on <|call|>, a stop token, so "length" always means something was cut.
        const reason: AnswerEnd =
          event.reason === "length" && !stoppedByString
            ? "length"
            : toolCalls > 0 || event.stopToken === SPECIAL_TOKENS.call
              ? "tool_calls"
              : "stop";
        yield {
          type: "finish",
          reason,
          usage: { ...event.usage, completionTokens: completion, reasoningTokens: tracker.reasoningTokens },
        };
        return;
      }
      if (stoppedByString) continue;
      tracker.firstToken();
      const logprobs: { token: number; logprob: TokenLogprob }[] = [];
      for (let i = 0; i < event.tokens.length; i++) {
        const token = event.tokens[i]!;
        generated++;
        for (const e of parser.push(token)) yield* toChat(e);
        if (parser.channel === "analysis") tracker.reasoningTokens++;
        // Logprobs cover the answer's text (OpenAI's logprobs.content), not reasoning or markers.
        const logprob = event.logprobs?.[i];
        if (logprob !== undefined && parser.channel === "final" && !isSpecialTokenId(token)) {
          logprobs.push({ token, logprob });
        }
        if (stoppedByString) {
          // The answer hit a stop string: end generation now; a finish ("stop") follows.
          ticket.stop();
          break;
        }
      }
      if (logprobs.length > 0) yield { type: "logprobs", tokens: logprobs };
    }
  } finally {
    if (parseErrors > 0) {
      deps.logger.warn(
        { request_id: prepared.requestId, model: modelId, parse_errors: parseErrors, first: firstParseError },
        "harmony parse errors: malformed output served as text",
      );
    }
  }

  function* toChat(e: ReturnType<HarmonyStreamParser["push"]>[number]): Generator<ChatEvent> {
    switch (e.type) {
      case "reasoning-delta":
        yield { type: "reasoning", text: e.text };
        break;
      case "content-delta": {
        const r = stops.push(e.text);
        if (r.emit !== "") yield { type: "content", text: r.emit };
        if (r.stopped) stoppedByString = true;
        break;
      }
      case "tool-call-start":
        toolCalls++;
        yield { type: "tool-call", index: e.index, id: newToolCallId(), name: e.name };
        break;
      case "tool-call-delta":
        yield { type: "tool-arguments", index: e.index, text: e.argumentsDelta };
        break;
      case "tool-call-end":
        break;
      case "parse-error":
        // Malformed model output degrades to text (harmony.md "Parsing output"): counted per
        // event, logged once per request (a noisy model would otherwise log a line per token).
        deps.metrics.parseError(modelId);
        parseErrors++;
        firstParseError ??= e.detail;
        break;
    }
  }
}
