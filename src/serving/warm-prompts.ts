/**
 * `--warm-prompt FILE`: the prompt prefixes clients send every time (a long system prompt, a tool
 * set), rendered to the tokens a real request starts with, so that the engines can hold them in
 * their prefix cache before the first request comes (engines/warm-up.ts runs them).
 *
 * A file is either JSON or plain text:
 * - JSON: an array (or a single item) of prefixes, each a system prompt as a string, or an object
 *   with the fields of a Chat Completions request that make a prefix: `messages` (system,
 *   developer, and any fixed turns such as few-shot examples), `tools`, `tool_choice`,
 *   `reasoning_effort`, `response_format`;
 * - anything else: the whole text is one system prompt.
 *
 * Each prefix is rendered by the request parser and harmony renderer that real requests go
 * through, with a user message after it; what comes before that message's `<|start|>` is the
 * prefix, token for token what a real request with the same system prompt and tools begins with.
 */
import { readFileSync } from "node:fs";
import { ServerError } from "../errors/server-error.ts";
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { parseChatRequest } from "./chat-request.ts";
import { renderServingRequest } from "./render-request.ts";

/** One rendered prefix, and where it came from (for logs and errors). */
export interface WarmPrompt {
  source: string;
  tokens: readonly number[];
}

export class WarmPromptError extends Error {
  override name = "WarmPromptError";
}

/** Renders every prefix of every file; throws WarmPromptError naming the file and item at fault. */
export function loadWarmPrompts(files: readonly string[], date: string, contextSize: number): WarmPrompt[] {
  const out: WarmPrompt[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new WarmPromptError(`--warm-prompt ${file}: ${(error as Error).message}`);
    }
    const items = warmItems(text);
    items.forEach((item, index) => {
      const source = items.length === 1 ? file : `${file}[${index}]`;
      const tokens = renderPrefix(item, source, date);
      // The engine needs room for the prefix and one generated token.
      if (tokens.length + 1 > contextSize) {
        throw new WarmPromptError(
          `--warm-prompt ${source}: ${tokens.length} tokens do not fit the context (${contextSize} a sequence)`,
        );
      }
      out.push({ source, tokens });
    });
  }
  return out;
}

/** A file's prefixes as Chat request fragments: JSON items, or the whole text as one system prompt. */
function warmItems(text: string): unknown[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [text];
  }
  // A JSON string is a system prompt too; an array lists several prefixes.
  return Array.isArray(json) ? json : [json];
}

function renderPrefix(item: unknown, source: string, date: string): number[] {
  const fragment =
    typeof item === "string"
      ? { messages: [{ role: "system", content: item }] }
      : item !== null && typeof item === "object" && !Array.isArray(item)
        ? (item as Record<string, unknown>)
        : undefined;
  const messages = fragment?.["messages"];
  if (fragment === undefined || !Array.isArray(messages)) {
    throw new WarmPromptError(
      `--warm-prompt ${source}: each prefix is a system prompt (a string) or an object with messages (and tools)`,
    );
  }
  try {
    const request = parseChatRequest({
      ...fragment,
      model: "warm-prompt",
      messages: [...(messages as unknown[]), { role: "user", content: "." }],
    });
    const tokens = renderServingRequest(request, date).tokens;
    // The render ends `<|start|>user<|message|>.<|end|><|start|>assistant`: the prefix ends before it.
    const cut = tokens.lastIndexOf(SPECIAL_TOKENS.start, tokens.lastIndexOf(SPECIAL_TOKENS.start) - 1);
    return tokens.slice(0, cut);
  } catch (error) {
    const message = error instanceof ServerError ? error.message : String(error);
    throw new WarmPromptError(`--warm-prompt ${source}: ${message}`);
  }
}
