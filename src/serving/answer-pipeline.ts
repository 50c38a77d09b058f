/**
 * The answer pipeline's first half, shared by Chat Completions and Responses (the request parsers
 * make the wire-independent ServingRequest): validate and route a request, render it with harmony,
 * check the context, pick the budget and the output constraint, admit it to the scheduler.
 * answer-events.ts turns the running request's tokens into answer events.
 */
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
import type { GenerationConversation, GenerationRequest, OutputSpec } from "../engines/engine.ts";
import { ServerError } from "../errors/server-error.ts";
import { HARMONY_STOP_TOKENS } from "../harmony/render.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { Ticket } from "../scheduler/scheduler-types.ts";
import type { ServingRequest } from "./serving-request.ts";
import type { RenderPool } from "./render-pool.ts";
import type { ModelPool, RoutedModel } from "./model-pool.ts";
import type { RequestTracker } from "./request-tracker.ts";
import { buildOutputConstraint, type OutputConstraint } from "./harmony-grammar.ts";
import { assertSupportedSchema } from "./json-schema-support.ts";
import { samplesRandomWeights, steerRandomWeights } from "./random-weights-steering.ts";
import { budgetHeader, completionBudget, MAX_TOKENS_HEADER } from "./completion-budget.ts";
import { samplingParams } from "./sampling-fields.ts";
import { REASONING_EFFORT_HEADER, reasoningEffortHeader } from "./reasoning-effort.ts";

export interface AnswerDeps {
  config: ServerConfig;
  pool: ModelPool;
  metrics: ServerMetrics;
  logger: Logger;
  /** Renders large prompts off the HTTP thread. */
  renderPool: RenderPool;
}

/** The most tokens any served model's context holds: no prompt longer than this can be served. */
export function promptTokenLimit(deps: Pick<AnswerDeps, "pool" | "config">): number {
  let limit = 0;
  for (const m of deps.pool.models) limit = Math.max(limit, m.engine.info.contextSize);
  return limit > 0 ? limit : deps.config.contextSize;
}

export interface PreparedAnswer {
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
export async function prepareAnswer(
  deps: AnswerDeps,
  request: ServingRequest,
  requestId: string,
  tracker: RequestTracker,
): Promise<PreparedAnswer> {
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
  // A chat-level engine takes the conversation and constrains output itself (its server's own
  // structured output, from `output`): no GBNF over harmony tokens, and nothing refused for want of one.
  const chatLevel = engine.info.capabilities.parsedOutput === true;
  if (chatLevel) assertChatLevelTools(request);
  const constraint = chatLevel
    ? undefined
    : outputConstraint(
        { ...request, answerInsteadOfCalls: samplesRandomWeights(engine.info) },
        engine.info.capabilities.grammar,
      );
  const generation: GenerationRequest = {
    id: requestId,
    promptTokens,
    sampling: samplingParams(
      request,
      profile,
      withBans(
        steerRandomWeights(request.logitBias, samplesRandomWeights(engine.info), constraint !== undefined),
        constraint?.bannedStopTokens ?? [],
      ),
    ),
    stopTokens: HARMONY_STOP_TOKENS,
    maxTokens,
    ignoreStopTokens: request.ignoreEos,
    minTokens: request.minTokens,
    priority: profile.priority,
    ...(constraint !== undefined ? { grammar: constraint.grammar } : {}),
    ...(constrained(request) ? { output: outputSpec(request) } : {}),
    ...(request.logprobs !== undefined ? { logprobs: request.logprobs } : {}),
    ...(chatLevel ? { conversation: conversationOf(request) } : {}),
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

/** Whether the request constrains its output: a response format, or tools it may call. */
function constrained(request: ServingRequest): boolean {
  return (
    request.responseFormat.type !== "text" || (request.tools.length > 0 && request.toolChoice !== "none")
  );
}

/** The request's output constraint by meaning (GenerationRequest.output), for every engine. */
function outputSpec(request: ServingRequest): OutputSpec {
  return { responseFormat: request.responseFormat, tools: request.tools, toolChoice: request.toolChoice };
}

/** The conversation by meaning (GenerationRequest.conversation), for a chat-level engine. */
function conversationOf(request: ServingRequest): GenerationConversation {
  return {
    ...(request.instructions !== undefined ? { instructions: request.instructions } : {}),
    messages: request.messages,
    reasoningEffort: request.reasoningEffort,
  };
}

/**
 * A chat-level engine's API has function tools only (OpenAI Chat's): a tool in a harmony namespace
 * or a freeform (custom) tool could not be called back as itself, so it is refused, not sent altered.
 */
function assertChatLevelTools(request: ServingRequest): void {
  const tool = request.tools.find((t) => t.namespace !== undefined || t.freeform !== undefined);
  if (tool === undefined) return;
  throw new ServerError(
    "invalid_value",
    `tool '${tool.name}': this model is served by a chat-level upstream, which takes function tools only (no namespaces, no custom tools)`,
    { param: "tools" },
  );
}

/** The client's logit bias plus bans (-100) on stop tokens the output must not end with. */
function withBans(bias: ReadonlyMap<number, number>, banned: readonly number[]): ReadonlyMap<number, number> {
  if (banned.length === 0) return bias;
  const merged = new Map(bias);
  for (const token of banned) merged.set(token, -100);
  return merged;
}

export function admitAnswer(prepared: PreparedAnswer, signal: AbortSignal): Promise<Ticket> {
  return prepared.routed.model.scheduler.admit(
    { id: prepared.requestId, profile: prepared.profile, request: prepared.generation },
    signal,
  );
}
