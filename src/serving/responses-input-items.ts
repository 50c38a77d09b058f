/**
 * GET /v1/responses/{id}/input_items: a stored response's own input items (not those of earlier
 * turns it continues), in OpenAI's list shape `{object: "list", data, first_id, last_id, has_more}`
 * with OpenAI's query: `limit` (1-100, default 20), `order` (`desc`, the default, or `asc`) and
 * `after` (an item id: the page starts after it).
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { ServerError } from "../errors/server-error.ts";
import type { InputItemWire } from "../protocol/responses.ts";
import type { ListedInputItem } from "./response-store.ts";
import { historyItem } from "./stored-history.ts";
import { zodToServerErrorAt } from "./zod-error.ts";

const PREFIX: Record<NonNullable<InputItemWire["type"]>, string> = {
  message: "msg",
  reasoning: "rs",
  function_call: "fc",
  function_call_output: "fco",
  custom_tool_call: "ctc",
  custom_tool_call_output: "ctco",
};

/** This request's input items, each with the id the client gave it or a new one. */
export function listedInputItems(input: readonly InputItemWire[]): ListedInputItem[] {
  return input.map((item) => {
    const id = item.id ?? `${PREFIX[item.type ?? "message"]}_${randomBytes(16).toString("hex")}`;
    return { ...historyItem(item), id };
  });
}

const querySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  order: z.enum(["asc", "desc"]).optional(),
  after: z.string().min(1).optional(),
});

export interface InputItemListWire {
  object: "list";
  data: unknown[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** One item as OpenAI lists it: messages with content parts, every item `completed`. */
function wireItem(item: ListedInputItem): unknown {
  if (item.type === undefined || item.type === "message") {
    const text =
      typeof item.content === "string" ? item.content : item.content.map((p) => p.text ?? "").join("");
    const part =
      item.role === "assistant"
        ? { type: "output_text", text, annotations: [] }
        : { type: "input_text", text };
    return { type: "message", id: item.id, role: item.role, content: [part], status: "completed" };
  }
  return { ...item, status: "completed" };
}

export function inputItemsPage(items: readonly ListedInputItem[], query: unknown): InputItemListWire {
  const parsed = querySchema.safeParse(query ?? {});
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, "", query);
  const { limit = 20, order = "desc", after } = parsed.data;
  const ordered = order === "asc" ? [...items] : [...items].reverse();
  let start = 0;
  if (after !== undefined) {
    const at = ordered.findIndex((item) => item.id === after);
    if (at < 0) {
      throw new ServerError("invalid_value", `after: no input item '${after}' in this response`, {
        param: "after",
      });
    }
    start = at + 1;
  }
  const page = ordered.slice(start, start + limit);
  return {
    object: "list",
    data: page.map(wireItem),
    first_id: page[0]?.id ?? null,
    last_id: page[page.length - 1]?.id ?? null,
    has_more: start + limit < ordered.length,
  };
}
