/**
 * The answer pipeline's second half: the scheduler's token events of a running request become
 * answer events (reasoning / content / tool calls / logprobs / finish) through the incremental
 * harmony parser, with stop strings applied to the answer. chat-response.ts and chat-stream.ts
 * write them as Chat Completions, responses-output.ts as the Responses API.
 */
import { randomBytes } from "node:crypto";
import type { GenerationUsage, ParsedOutputEvent, TokenLogprob } from "../engines/engine.ts";
import { HarmonyStreamParser, type HarmonyEvent } from "../harmony/parser.ts";
import { isSpecialTokenId, SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { getHarmonyTokenizer } from "../harmony/tokenizer.ts";
import type { Ticket } from "../scheduler/scheduler-types.ts";
import type { AnswerDeps, PreparedAnswer } from "./answer-pipeline.ts";
import type { RequestTracker } from "./request-tracker.ts";
import { StopStringMatcher } from "./stop-strings.ts";

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

export type AnswerEvent =
  | { type: "reasoning"; text: string }
  | { type: "content"; text: string }
  | { type: "tool-call"; index: number; id: string; name: string }
  | { type: "tool-arguments"; index: number; text: string }
  | { type: "finish"; reason: AnswerEnd; usage: AnswerUsage }
  /** The logprobs of the answer's (final channel's) tokens, after the events of their text. */
  | { type: "logprobs"; tokens: { token: number; logprob: TokenLogprob }[] }
  | { type: "cancelled" };

/** A fresh tool call id (OpenAI's `call_` form); a cached answer replays with new ones. */
export function newToolCallId(): string {
  return `call_${randomBytes(12).toString("base64url")}`;
}

/** An event of a cached answer as it is replayed: a tool call gets a new id, as every answer's do. */
export function replayedAnswerEvent(event: AnswerEvent): AnswerEvent {
  return event.type === "tool-call" ? { ...event, id: newToolCallId() } : event;
}

/**
 * Runs the generation behind `ticket` and yields chat events. Stop strings apply to the final
 * channel only (the answer), never to reasoning.
 */
export async function* answerEvents(
  deps: AnswerDeps,
  prepared: PreparedAnswer,
  ticket: Ticket,
  tracker: RequestTracker,
): AsyncGenerator<AnswerEvent> {
  const parser = new HarmonyStreamParser();
  const stops = new StopStringMatcher(prepared.request.stop);
  const modelId = prepared.routed.model.id;
  let toolCalls = 0;
  let stoppedByString = false;
  let generated = 0;
  /** Parsed deltas' texts that came without a token count: counted at the finish, only if needed. */
  const uncounted: string[] = [];
  let parseErrors = 0;
  let firstParseError: string | undefined;
  /** Tool calls of a parsed-output engine that have started, by index. */
  const toolStarts = new Set<number>();
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
        const own = (): number => generated + textTokens(uncounted);
        const completion = stoppedByString
          ? own()
          : event.usage.completionTokens === 0 && (generated > 0 || uncounted.length > 0)
            ? own()
            : event.usage.completionTokens;
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
        tracker.finishReason = reason;
        yield {
          type: "finish",
          reason,
          usage: { ...event.usage, completionTokens: completion, reasoningTokens: tracker.reasoningTokens },
        };
        return;
      }
      if (stoppedByString) continue;
      tracker.firstToken();
      if (event.type === "parsed") {
        // An engine that parsed its output itself (a chat-level upstream): no harmony parser. Its
        // deltas carry no token count; their texts' gpt-oss tokens stand in for the upstream's usage
        // when that never comes (a stop string ended the answer, or the server sends none). Kept
        // and tokenized at the finish only then, not per delta.
        if (event.tokenCount !== undefined) generated += event.tokenCount;
        else uncounted.push(parsedText(event));
        for (const e of parsedAsHarmony(event, toolStarts)) {
          if (stoppedByString) break; // the answer ended at a stop string: nothing after it counts
          yield* toChat(e);
        }
        if (stoppedByString) ticket.stop();
        continue;
      }
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

  function* toChat(e: ReturnType<HarmonyStreamParser["push"]>[number]): Generator<AnswerEvent> {
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

/**
 * A ParsedOutputEvent as the harmony parser's events, so one path turns both into answer events
 * (stop strings, tool-call ids, counts). A call's first delta names it.
 */
export function parsedAsHarmony(event: ParsedOutputEvent, started: Set<number>): HarmonyEvent[] {
  const out: HarmonyEvent[] = [];
  if (event.reasoning !== undefined && event.reasoning !== "") {
    out.push({ type: "reasoning-delta", text: event.reasoning });
  }
  if (event.content !== undefined && event.content !== "") {
    out.push({ type: "content-delta", text: event.content, channel: "final" });
  }
  const call = event.toolCall;
  if (call !== undefined) {
    if (!started.has(call.index) && call.name !== undefined) {
      started.add(call.index);
      out.push({
        type: "tool-call-start",
        index: call.index,
        name: call.name,
        recipient: `functions.${call.name}`,
        channel: "commentary",
      });
    }
    if (started.has(call.index) && call.arguments !== "") {
      out.push({ type: "tool-call-delta", index: call.index, argumentsDelta: call.arguments });
    }
  }
  return out;
}

/** A parsed delta's text: what the upstream generated for it. */
function parsedText(event: ParsedOutputEvent): string {
  return (
    (event.reasoning ?? "") +
    (event.content ?? "") +
    (event.toolCall?.name ?? "") +
    (event.toolCall?.arguments ?? "")
  );
}

/** The gpt-oss tokens of those texts, each encoded as it came (the upstream's deltas are its tokens' text). */
function textTokens(texts: readonly string[]): number {
  let count = 0;
  for (const text of texts) if (text !== "") count += getHarmonyTokenizer().encode(text).length;
  return count;
}
