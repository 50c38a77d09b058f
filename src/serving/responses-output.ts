/**
 * Answer events (answer-events.ts) → a Responses API `response` object and, for streaming, the event
 * sequence OpenAI sends: response.created, response.in_progress, then per output item
 * output_item.added → content_part.added → *.delta… → *.done → content_part.done →
 * output_item.done, and a terminal response.completed / response.incomplete / response.failed.
 * One builder produces both forms, so the streamed events always add up to the final object.
 */
import type { ServerError } from "../errors/server-error.ts";
import type {
  OutputItemWire,
  OutputMessageWire,
  OutputReasoningWire,
  OutputTextPartWire,
  ReasoningTextPartWire,
  ResponseStreamEventWire,
  ResponseWire,
  SummaryTextPartWire,
} from "../protocol/responses.ts";
import type { PreparedAnswer } from "./answer-pipeline.ts";
import type { AnswerEvent } from "./answer-events.ts";
import { extrasOf } from "./chat-response.ts";
import { closeEvents, newCallItem, newItemId, snapshot, type Unnumbered } from "./responses-output-items.ts";
import type { ResponseEcho } from "./responses-request.ts";
import { toTokenLogprobWire } from "./token-logprobs.ts";
import type { DomainFunctionTool } from "./serving-request.ts";

interface OpenItem {
  index: number;
  item: OutputItemWire;
  /** The chat event's tool-call index, for function_call items. */
  callIndex?: number;
}

/** Statuses a response does not leave. */
const TERMINAL: ReadonlySet<ResponseWire["status"]> = new Set([
  "completed",
  "incomplete",
  "failed",
  "cancelled",
]);

export class ResponseBuilder {
  readonly #response: ResponseWire;
  readonly #tools: readonly DomainFunctionTool[];
  /** `reasoning.summary` asked: reasoning items carry their text as a summary_text part too. */
  readonly #summarize: boolean;
  #sequence = 0;
  #open: OpenItem | undefined;

  constructor(prepared: PreparedAnswer, echo: ResponseEcho, id: string = newItemId("resp")) {
    const sampling = prepared.generation.sampling;
    this.#tools = prepared.request.tools;
    this.#summarize = echo.reasoningSummary !== null;
    this.#response = {
      id,
      object: "response",
      created_at: prepared.created,
      completed_at: null,
      status: "in_progress",
      error: null,
      incomplete_details: null,
      instructions: echo.instructions,
      max_output_tokens: echo.maxOutputTokens,
      model: prepared.routed.model.id,
      output: [],
      parallel_tool_calls: echo.parallelToolCalls,
      previous_response_id: echo.previousResponseId,
      reasoning: { effort: prepared.request.reasoningEffort, summary: echo.reasoningSummary },
      store: echo.store,
      temperature: sampling.temperature,
      text: { format: echo.textFormat },
      tool_choice: echo.toolChoice,
      tools: echo.tools,
      top_p: sampling.topP,
      truncation: "disabled",
      usage: null,
      user: echo.user,
      metadata: echo.metadata,
      background: echo.background,
      ...extrasOf(prepared),
    };
  }

  get id(): string {
    return this.#response.id;
  }

  /** The response as it stands (final once a terminal event was produced). */
  get response(): ResponseWire {
    return this.#response;
  }

  get finished(): boolean {
    return TERMINAL.has(this.#response.status);
  }

  /** A background response waits in the queue as `queued` until generation begins. */
  set queued(queued: boolean) {
    if (!this.finished) this.#response.status = queued ? "queued" : "in_progress";
  }

  /** response.created and response.in_progress: the first two events of every stream. */
  start(): ResponseStreamEventWire[] {
    return [
      this.#number({ type: "response.created", response: snapshot(this.#response) }),
      this.#number({ type: "response.in_progress", response: snapshot(this.#response) }),
    ];
  }

  /** The events one chat event causes (none for "cancelled": the caller decides how to end). */
  push(e: AnswerEvent): ResponseStreamEventWire[] {
    const out: Unnumbered[] = [];
    switch (e.type) {
      case "reasoning":
        this.#ensure("reasoning", out);
        this.#appendText(e.text, out);
        break;
      case "content":
        this.#ensure("message", out);
        this.#appendText(e.text, out);
        break;
      case "tool-call":
        this.#close("completed", out);
        this.#openCall(e.index, e.id, e.name, out);
        break;
      case "tool-arguments": {
        const open = this.#open;
        if (open?.callIndex !== e.index) break;
        if (open.item.type === "function_call") {
          open.item.arguments += e.text;
          out.push({
            type: "response.function_call_arguments.delta",
            item_id: open.item.id,
            output_index: open.index,
            delta: e.text,
          });
        } else if (open.item.type === "custom_tool_call") {
          open.item.input += e.text;
          out.push({
            type: "response.custom_tool_call_input.delta",
            item_id: open.item.id,
            output_index: open.index,
            delta: e.text,
          });
        }
        break;
      }
      case "finish": {
        const cut = e.reason === "length";
        this.#close(cut ? "incomplete" : "completed", out);
        this.#response.usage = {
          input_tokens: e.usage.promptTokens,
          input_tokens_details: { cached_tokens: e.usage.cachedTokens },
          output_tokens: e.usage.completionTokens,
          output_tokens_details: { reasoning_tokens: e.usage.reasoningTokens },
          total_tokens: e.usage.promptTokens + e.usage.completionTokens,
        };
        this.#response.completed_at = Math.floor(Date.now() / 1000);
        if (cut) {
          this.#response.status = "incomplete";
          this.#response.incomplete_details = { reason: "max_output_tokens" };
          out.push({ type: "response.incomplete", response: snapshot(this.#response) });
        } else {
          this.#response.status = "completed";
          out.push({ type: "response.completed", response: snapshot(this.#response) });
        }
        break;
      }
      case "logprobs": {
        // The answer's token logprobs (include: message.output_text.logprobs): on the part, and on
        // a delta of their own that adds no text (they follow their tokens' text deltas).
        const open = this.#open;
        const part = open?.item.type === "message" ? open.item.content[0] : undefined;
        if (open === undefined || part === undefined || part.type !== "output_text") break;
        const logprobs = e.tokens.map((t) => toTokenLogprobWire(t.token, t.logprob));
        part.logprobs.push(...logprobs);
        out.push({
          type: "response.output_text.delta",
          item_id: open.item.id,
          output_index: open.index,
          content_index: 0,
          delta: "",
          logprobs,
        });
        break;
      }
      case "cancelled":
        break;
    }
    return out.map((ev) => this.#number(ev));
  }

  /** Ends the response as failed (an engine error, a timeout, a cancellation mid-stream). */
  fail(error: ServerError): ResponseStreamEventWire[] {
    if (this.finished) return [];
    const out: Unnumbered[] = [];
    this.#close("incomplete", out);
    this.#response.status = "failed";
    this.#response.error = { code: error.code, message: error.message };
    out.push({ type: "response.failed", response: snapshot(this.#response) });
    return out.map((ev) => this.#number(ev));
  }

  /** Ends a background response cancelled by POST /v1/responses/{id}/cancel: status `cancelled`. */
  cancel(): void {
    if (this.finished) return;
    this.#close("incomplete", []);
    this.#response.status = "cancelled";
    this.#response.completed_at = Math.floor(Date.now() / 1000);
  }

  #number(ev: Unnumbered): ResponseStreamEventWire {
    return { ...ev, sequence_number: this.#sequence++ };
  }

  /** Makes an item of `type` the open one, closing a different open item first. */
  #ensure(type: "reasoning" | "message", out: Unnumbered[]): void {
    if (this.#open?.item.type === type) return;
    this.#close("completed", out);
    const index = this.#response.output.length;
    const item: OutputMessageWire | OutputReasoningWire =
      type === "message"
        ? { id: newItemId("msg"), type: "message", role: "assistant", status: "in_progress", content: [] }
        : { id: newItemId("rs"), type: "reasoning", summary: [], content: [], status: "in_progress" };
    this.#response.output.push(item);
    this.#open = { index, item };
    out.push({ type: "response.output_item.added", output_index: index, item: snapshot(item) });
    // The part goes in after the added event: clients append content_part.added's part themselves.
    let part: OutputTextPartWire | ReasoningTextPartWire;
    if (item.type === "message") {
      const text: OutputTextPartWire = { type: "output_text", text: "", annotations: [], logprobs: [] };
      item.content.push(text);
      part = text;
    } else {
      const text: ReasoningTextPartWire = { type: "reasoning_text", text: "" };
      item.content.push(text);
      part = text;
    }
    out.push({
      type: "response.content_part.added",
      item_id: item.id,
      output_index: index,
      content_index: 0,
      part: snapshot(part),
    });
    if (item.type === "reasoning" && this.#summarize) {
      // gpt-oss has no summarizer: the summary is the reasoning text itself, streamed alongside.
      const summary: SummaryTextPartWire = { type: "summary_text", text: "" };
      item.summary.push(summary);
      out.push({
        type: "response.reasoning_summary_part.added",
        item_id: item.id,
        output_index: index,
        summary_index: 0,
        part: snapshot(summary),
      });
    }
  }

  #appendText(text: string, out: Unnumbered[]): void {
    const open = this.#open;
    if (open === undefined || (open.item.type !== "message" && open.item.type !== "reasoning")) return;
    const part = open.item.content[0];
    if (part === undefined) return;
    part.text += text;
    const base = { item_id: open.item.id, output_index: open.index, content_index: 0, delta: text };
    out.push(
      open.item.type === "message"
        ? { type: "response.output_text.delta", ...base, logprobs: [] }
        : { type: "response.reasoning_text.delta", ...base },
    );
    const summary = open.item.type === "reasoning" ? open.item.summary[0] : undefined;
    if (summary !== undefined) {
      summary.text += text;
      out.push({
        type: "response.reasoning_summary_text.delta",
        item_id: open.item.id,
        output_index: open.index,
        summary_index: 0,
        delta: text,
      });
    }
  }

  /** A call item (function_call or custom_tool_call, responses-output-items.ts). */
  #openCall(callIndex: number, callId: string, called: string, out: Unnumbered[]): void {
    const index = this.#response.output.length;
    const item = newCallItem(this.#tools, callId, called);
    this.#response.output.push(item);
    this.#open = { index, item, callIndex };
    out.push({ type: "response.output_item.added", output_index: index, item: snapshot(item) });
  }

  /** Closes the open item: its *.done events, content_part.done, output_item.done. */
  #close(status: "completed" | "incomplete", out: Unnumbered[]): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    open.item.status = status;
    out.push(...closeEvents(open.item, open.index));
  }
}

/** The non-streaming form: runs the events through a builder; undefined when cancelled. */
export async function collectResponse(
  builder: ResponseBuilder,
  events: AsyncIterable<AnswerEvent>,
): Promise<ResponseWire | undefined> {
  for await (const e of events) {
    if (e.type === "cancelled") return undefined;
    builder.push(e);
  }
  return builder.finished ? builder.response : undefined;
}
