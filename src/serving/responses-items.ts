/**
 * Responses API input items → the domain conversation (serving-request.ts). Items are already
 * shape-checked (responses-request.ts); this is where their meaning is checked: text-only content,
 * function_call_output pointing at an earlier call.
 *
 * Assistant-side items that follow each other (reasoning, an assistant message, function calls) are
 * one assistant turn, because that is how harmony renders them: the analysis, then a final answer
 * or a preamble plus the calls. render.ts then applies harmony's history rule (the analysis of
 * turns that ended in a final answer is dropped; that of a running tool-call loop is kept).
 */
import { z } from "zod";
import { ServerError } from "../errors/server-error.ts";
import type { InputItemWire } from "../protocol/responses.ts";
import type { DomainMessage, DomainToolCall } from "./serving-request.ts";
import { zodToServerErrorAt } from "./zod-error.ts";

/** An item and the request field to blame when it is wrong. */
export interface LocatedItem {
  item: InputItemWire;
  param: string;
}

export interface ItemConversation {
  /** Texts of system/developer message items, in order: harmony puts them under "# Instructions". */
  systemTexts: string[];
  messages: DomainMessage[];
}

const part = z
  .object({ type: z.string(), text: z.string().optional(), refusal: z.string().optional() })
  .loose();
const itemStatus = z.enum(["in_progress", "completed", "incomplete"]).optional();

const ITEM_SCHEMAS = {
  message: z.object({
    type: z.literal("message").optional(),
    id: z.string().optional(),
    role: z.enum(["user", "system", "developer", "assistant"]),
    content: z.union([z.string(), z.array(part)]),
    status: z.string().optional(),
  }),
  function_call: z.object({
    type: z.literal("function_call"),
    id: z.string().optional(),
    call_id: z.string().min(1),
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    arguments: z.string(),
    status: itemStatus,
  }),
  // No call_id in Codex's goals feature: the output pairs with the latest unanswered call.
  function_call_output: z.object({
    type: z.literal("function_call_output"),
    id: z.string().optional(),
    call_id: z
      .string()
      .nullish()
      .transform((v) => (v === null || v === "" ? undefined : v)),
    output: z.union([z.string(), z.array(part)]),
    status: z.string().optional(),
  }),
  custom_tool_call: z.object({
    type: z.literal("custom_tool_call"),
    id: z.string().optional(),
    call_id: z.string().min(1),
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    input: z.string(),
    status: z.string().optional(),
  }),
  custom_tool_call_output: z.object({
    type: z.literal("custom_tool_call_output"),
    id: z.string().optional(),
    call_id: z
      .string()
      .nullish()
      .transform((v) => (v === null || v === "" ? undefined : v)),
    output: z.union([z.string(), z.array(part)]),
    status: z.string().optional(),
  }),
  reasoning: z.object({
    type: z.literal("reasoning"),
    id: z.string().optional(),
    summary: z.array(z.object({ type: z.literal("summary_text"), text: z.string() })).optional(),
    content: z.array(z.object({ type: z.literal("reasoning_text"), text: z.string() })).nullish(),
    encrypted_content: z.string().nullish(),
    status: itemStatus,
  }),
} as const;

const itemReference = z.object({ type: z.literal("item_reference").nullish(), id: z.string().min(1) });

/** Finds an output item of a stored response by its id (response-store.ts), in its history form. */
export type ItemLookup = (itemId: string) => InputItemWire | undefined;

/**
 * One raw `input` item → its checked wire shape; `param` names it in errors (`input.3`). An
 * `item_reference` (`{type: "item_reference", id}` or just `{id}`, as the AI SDK sends for items of a
 * stored response) is replaced by the item it names.
 */
export function parseInputItem(raw: unknown, param: string, items?: ItemLookup): InputItemWire {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ServerError("invalid_value", `${param}: each input item must be an object`, { param });
  }
  const bareId = !("type" in raw) && !("role" in raw) && "id" in raw;
  if (bareId || (raw as { type?: unknown }).type === "item_reference") {
    const parsed = itemReference.safeParse(raw);
    if (!parsed.success) throw zodToServerErrorAt(parsed.error, param, raw);
    const item = items?.(parsed.data.id);
    if (item === undefined) {
      throw new ServerError(
        "invalid_value",
        `${param}.id: item '${parsed.data.id}' is not an output item of a response stored here ` +
          "(never stored, store: false, expired or evicted)",
        { param: `${param}.id` },
      );
    }
    return item;
  }
  const declared = (raw as { type?: unknown }).type ?? ("role" in raw ? "message" : undefined);
  const schema =
    typeof declared === "string" && Object.hasOwn(ITEM_SCHEMAS, declared)
      ? ITEM_SCHEMAS[declared as keyof typeof ITEM_SCHEMAS]
      : undefined; // hasOwn: "constructor" or "__proto__" must not find Object.prototype's
  if (schema === undefined) {
    throw new ServerError(
      "invalid_value",
      `${param}.type: input item type ${JSON.stringify(declared) ?? "(none)"} is not supported; ` +
        `supported: ${[...Object.keys(ITEM_SCHEMAS), "item_reference"].join(", ")}`,
      { param: `${param}.type` },
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, param, raw);
  return parsed.data as InputItemWire;
}

type Part = { type: string; text?: string; refusal?: string };

/**
 * The text of content parts. A tool's output may hold what gpt-oss cannot read (Codex's view_image
 * returns an `input_image`): there such a part becomes a note, since the client cannot choose what a
 * tool returned; in messages it is a 400.
 */
function textOf(content: string | readonly Part[], param: string, toolOutput = false): string {
  if (typeof content === "string") return content;
  return content
    .map((part, i) => {
      if ((part.type === "input_text" || part.type === "output_text") && typeof part.text === "string") {
        return part.text;
      }
      if (part.type === "refusal" && typeof part.refusal === "string") return part.refusal;
      if (toolOutput) return `[${part.type} omitted: gpt-oss reads text only]`;
      throw new ServerError(
        "invalid_value",
        `content part type '${part.type}' is not supported: gpt-oss reads text only ` +
          "(input_text, output_text)",
        { param: `${param}.${i}.type` },
      );
    })
    .join("");
}

class AssistantTurn {
  reasoning: string[] = [];
  content: string[] = [];
  calls: DomainToolCall[] = [];

  get empty(): boolean {
    return this.reasoning.length === 0 && this.content.length === 0 && this.calls.length === 0;
  }

  toMessage(): DomainMessage {
    const reasoning = this.reasoning.join("\n");
    const content = this.content.join("");
    return {
      role: "assistant",
      ...(content !== "" ? { content } : {}),
      ...(reasoning !== "" ? { reasoning } : {}),
      ...(this.calls.length > 0 ? { toolCalls: this.calls } : {}),
    };
  }
}

interface CallInfo {
  name: string;
  namespace: string | undefined;
  answered: boolean;
}

export function itemsToConversation(items: readonly LocatedItem[]): ItemConversation {
  const systemTexts: string[] = [];
  const messages: DomainMessage[] = [];
  // Insertion order is call order: the latest unanswered call is the last unanswered entry.
  const calls = new Map<string, CallInfo>();
  let turn = new AssistantTurn();
  const flush = (): void => {
    if (!turn.empty) messages.push(turn.toMessage());
    turn = new AssistantTurn();
  };
  const addCall = (call: DomainToolCall): void => {
    calls.set(call.id, { name: call.name, namespace: call.namespace, answered: false });
    turn.calls.push(call);
  };
  const addOutput = (callId: string | undefined, output: string, param: string): void => {
    flush();
    let id = callId;
    if (id === undefined) {
      for (const [candidate, info] of calls) if (!info.answered) id = candidate;
    }
    const call = id === undefined ? undefined : calls.get(id);
    if (callId !== undefined && call === undefined) {
      throw new ServerError(
        "invalid_value",
        `the output's call_id '${callId}' matches no earlier call ` +
          "(send the call item before its output, or use previous_response_id)",
        { param: `${param}.call_id` },
      );
    }
    if (call !== undefined) call.answered = true;
    // No call to pair with: rendered from the latest call's tool (render.ts), without pairing.
    messages.push({
      role: "tool",
      toolCallId: id ?? "",
      name: call?.name ?? "",
      ...(call?.namespace !== undefined ? { namespace: call.namespace } : {}),
      content: output,
    });
  };

  for (const { item, param } of items) {
    switch (item.type) {
      case undefined:
      case "message": {
        const text = textOf(item.content, `${param}.content`);
        if (item.role === "system" || item.role === "developer") {
          systemTexts.push(text);
        } else if (item.role === "user") {
          flush();
          messages.push({ role: "user", content: text });
        } else {
          // An answer after tool calls starts a new assistant message in harmony.
          if (turn.calls.length > 0) flush();
          turn.content.push(text);
        }
        break;
      }
      case "reasoning": {
        // Reasoning after an answer or a call belongs to the next step of the loop.
        if (turn.content.length > 0 || turn.calls.length > 0) flush();
        const parts = item.content ?? [];
        const text =
          parts.length > 0
            ? parts.map((p) => p.text).join("")
            : (item.summary ?? []).map((s) => s.text).join("\n");
        if (text !== "") turn.reasoning.push(text);
        break;
      }
      case "function_call":
        addCall({
          id: item.call_id,
          name: item.name,
          arguments: item.arguments,
          ...(item.namespace !== undefined && item.namespace !== "functions"
            ? { namespace: item.namespace }
            : {}),
        });
        break;
      case "custom_tool_call":
        addCall({
          id: item.call_id,
          name: item.name,
          arguments: item.input,
          ...(item.namespace !== undefined && item.namespace !== "functions"
            ? { namespace: item.namespace }
            : {}),
          freeform: true,
        });
        break;
      case "function_call_output":
      case "custom_tool_call_output":
        addOutput(item.call_id, textOf(item.output, `${param}.output`, true), param);
        break;
    }
  }
  flush();
  return { systemTexts, messages };
}

/** A plain-string `input`, as the one user message item it stands for. */
export function userItem(text: string): InputItemWire {
  return { type: "message", role: "user", content: text };
}
