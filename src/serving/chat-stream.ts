/**
 * Chat events → `chat.completion.chunk` objects (the streaming form): a first chunk with the role,
 * one chunk per delta, a last chunk with finish_reason, then (with stream_options.include_usage) a
 * usage chunk with empty choices, as OpenAI sends them.
 */
import type {
  ChatChunkWire,
  ChatLogprobsWire,
  ChatDeltaWire,
  FinishReasonWire,
  ServerExtrasWire,
  UsageWire,
} from "../protocol/chat.ts";
import type { PreparedAnswer } from "./answer-pipeline.ts";
import type { AnswerEvent } from "./answer-events.ts";
import { SYSTEM_FINGERPRINT, extrasOf, usageWire } from "./chat-response.ts";
import { toTokenLogprobWire } from "./token-logprobs.ts";

export class ChatChunker {
  readonly #id: string;
  readonly #created: number;
  readonly #model: string;
  readonly #extras: ServerExtrasWire;
  readonly #includeUsage: boolean;

  constructor(prepared: PreparedAnswer) {
    this.#id = `chatcmpl-${prepared.requestId}`;
    this.#created = prepared.created;
    this.#model = prepared.routed.model.id;
    this.#extras = extrasOf(prepared);
    this.#includeUsage = prepared.request.includeUsage;
  }

  #chunk(
    delta: ChatDeltaWire,
    finishReason: FinishReasonWire | null = null,
    logprobs: ChatLogprobsWire | null = null,
  ): ChatChunkWire {
    const chunk = this.#envelope([{ index: 0, delta, finish_reason: finishReason, logprobs }]);
    // With include_usage, OpenAI sends `usage: null` on every chunk but the last.
    if (this.#includeUsage) chunk.usage = null;
    return chunk;
  }

  first(): ChatChunkWire {
    return this.#chunk({ role: "assistant", content: "" });
  }

  /** The chunks for one event (none for "cancelled"). */
  chunks(e: AnswerEvent): ChatChunkWire[] {
    switch (e.type) {
      case "reasoning":
        return [this.#chunk({ reasoning: e.text, reasoning_content: e.text })];
      case "content":
        return [this.#chunk({ content: e.text })];
      case "tool-call":
        return [
          this.#chunk({
            tool_calls: [
              { index: e.index, id: e.id, type: "function", function: { name: e.name, arguments: "" } },
            ],
          }),
        ];
      case "tool-arguments":
        return [this.#chunk({ tool_calls: [{ index: e.index, function: { arguments: e.text } }] })];
      case "logprobs":
        return [
          this.#chunk({}, null, {
            content: e.tokens.map((t) => toTokenLogprobWire(t.token, t.logprob)),
            refusal: null,
          }),
        ];
      case "finish":
        return this.#includeUsage
          ? [this.#chunk({}, e.reason), this.#usageChunk(usageWire(e.usage))]
          : [this.#chunk({}, e.reason)];
      case "cancelled":
        return [];
    }
  }

  /** OpenAI's usage chunk: empty choices, the usage of the whole request. */
  #usageChunk(usage: UsageWire): ChatChunkWire {
    return { ...this.#envelope([]), usage };
  }

  #envelope(choices: ChatChunkWire["choices"]): ChatChunkWire {
    return {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices,
      ...this.#extras,
    };
  }
}
