/**
 * A conversation → the harmony prompt gpt-oss continues (shared/design/harmony.md). Byte layout
 * follows openai-harmony (the official chat template agrees except where noted):
 *
 *   <|start|>system<|message|>{identity}\nKnowledge cutoff: 2024-06\nCurrent date: {date}\n\n
 *     Reasoning: {effort}\n\n# Valid channels: …<|end|>
 *   <|start|>developer<|message|># Instructions\n\n{instructions}\n\n# Tools\n\n{namespace}
 *     \n\n# Response Formats\n\n## {name}\n\n// {description}\n{schema JSON}<|end|>
 *   <|start|>user<|message|>{text}<|end|>
 *   <|start|>assistant<|channel|>final<|message|>{earlier answer}<|end|>
 *   <|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{args}<|call|>
 *   <|start|>functions.f to=assistant<|channel|>commentary<|message|>{output}<|end|>
 *   <|start|>assistant
 *
 * Token ids are built from control-token ids plus `encode()` of each text piece, never by
 * tokenizing the spelled-out text: client text cannot inject a control token.
 */
import { renderToolNamespaces } from "./render-tools.ts";
import { SPECIAL_TOKENS, SPECIAL_TOKEN_TEXT, type SpecialTokenName } from "./special-tokens.ts";
import { getHarmonyTokenizer, TokenLimitExceededError, type HarmonyTokenizer } from "./tokenizer.ts";
import type {
  AssistantMessage,
  ConversationMessage,
  FunctionTool,
  RenderInput,
  RenderedPrompt,
  ResponseFormatSchema,
  ToolCall,
  ToolNamespace,
} from "./types.ts";

/** Sample until one of these only. `<|end|>` is not one: it ends the analysis, not the turn. */
export const HARMONY_STOP_TOKENS: readonly number[] = Object.freeze([
  SPECIAL_TOKENS.return,
  SPECIAL_TOKENS.call,
]);

export const DEFAULT_MODEL_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI.";
export const KNOWLEDGE_CUTOFF = "2024-06";

/** Accumulates ids and the spelled-out text side by side. */
class PromptBuilder {
  readonly tokens: number[] = [];
  readonly #text: string[] = [];
  readonly #tokenizer: HarmonyTokenizer;
  readonly #limit: number | undefined;

  constructor(tokenizer: HarmonyTokenizer, limit?: number) {
    this.#tokenizer = tokenizer;
    this.#limit = limit;
  }

  special(name: SpecialTokenName): void {
    this.tokens.push(SPECIAL_TOKENS[name]);
    this.#text.push(SPECIAL_TOKEN_TEXT[name]);
    if (this.#limit !== undefined && this.tokens.length > this.#limit) {
      throw new TokenLimitExceededError(this.#limit);
    }
  }

  /** Each piece is encoded on its own, as openai-harmony's render_text_into does. */
  text(piece: string): void {
    if (piece === "") return;
    // A loop, not push(...ids): a long document would overflow the argument limit.
    const room = this.#limit === undefined ? undefined : this.#limit - this.tokens.length;
    for (const id of this.#tokenizer.encode(piece, room)) this.tokens.push(id);
    this.#text.push(piece);
  }

  /** `<|start|>{role}[ to={recipient}][<|channel|>{channel}]<|message|>{content}<|end|>` */
  message(role: string, channel: string | undefined, content: string, recipient?: string): void {
    this.special("start");
    this.text(role);
    if (recipient !== undefined) this.text(` to=${recipient}`);
    if (channel !== undefined) {
      this.special("channel");
      this.text(channel);
    }
    this.special("message");
    this.text(content);
    this.special("end");
  }

  rendered(): RenderedPrompt {
    return { tokens: this.tokens, text: this.#text.join("") };
  }
}

function systemMessage(input: RenderInput, hasFunctionTools: boolean): string {
  let channels = "# Valid channels: analysis, commentary, final. Channel must be included for every message.";
  if (hasFunctionTools) channels += "\nCalls to these tools must go to the commentary channel: 'functions'.";
  return [
    [
      input.modelIdentity ?? DEFAULT_MODEL_IDENTITY,
      `Knowledge cutoff: ${KNOWLEDGE_CUTOFF}`,
      `Current date: ${input.date}`,
    ].join("\n"),
    `Reasoning: ${input.reasoningEffort}`,
    channels,
  ].join("\n\n");
}

/**
 * Sections joined by a blank line, as openai-harmony does. (The HF chat template differs in one
 * byte pattern: with instructions and no tools it leaves "\n\n" before `<|end|>`.)
 */
function developerMessage(
  instructions: string | undefined,
  tools: readonly FunctionTool[],
  namespaces: readonly ToolNamespace[],
  responseFormat: ResponseFormatSchema | undefined,
): string | undefined {
  const sections: string[] = [];
  if (instructions !== undefined && instructions !== "") sections.push("# Instructions", instructions);
  if (tools.length > 0) sections.push("# Tools", renderToolNamespaces(tools, namespaces));
  if (responseFormat !== undefined) sections.push("# Response Formats", renderResponseFormat(responseFormat));
  return sections.length === 0 ? undefined : sections.join("\n\n");
}

/**
 * `## {name}`, a blank line, the description as a `//` comment, the schema as compact JSON (the
 * layout of the harmony guide's structured-output example).
 */
function renderResponseFormat(format: ResponseFormatSchema): string {
  const description =
    format.description !== undefined && format.description !== "" ? `// ${format.description}\n` : "";
  return `## ${format.name}\n\n${description}${JSON.stringify(format.schema)}`;
}

function isFinalAnswer(m: ConversationMessage): boolean {
  return m.role === "assistant" && (m.toolCalls?.length ?? 0) === 0 && (m.content ?? "") !== "";
}

function renderAssistant(b: PromptBuilder, m: AssistantMessage, keepReasoning: boolean): void {
  const calls = m.toolCalls ?? [];
  const content = m.content ?? "";
  const reasoning = m.reasoning ?? "";
  if (calls.length === 0) {
    if (keepReasoning && content === "" && reasoning !== "") b.message("assistant", "analysis", reasoning);
    // A replayed answer ends with <|end|>: <|return|> only ever ends a generation.
    if (content !== "") b.message("assistant", "final", content);
    return;
  }
  if (keepReasoning && reasoning !== "") b.message("assistant", "analysis", reasoning);
  // Text beside a tool call is a preamble: the commentary channel without a recipient.
  if (content !== "") b.message("assistant", "commentary", content);
  for (const call of calls) {
    b.special("start");
    b.text("assistant");
    b.special("channel");
    b.text("commentary");
    b.text(` to=${recipientOf(call)}`);
    // A freeform tool's input is raw text: no content type (harmony's `code` tools carry none either).
    if (call.freeform !== true) {
      b.text(" ");
      b.special("constrain");
      b.text("json");
    }
    b.special("message");
    b.text(call.arguments);
    b.special("call");
  }
}

/** `functions.NAME`, or `NAMESPACE.NAME` for a tool of another namespace. */
function recipientOf(call: Pick<ToolCall, "name" | "namespace">): string {
  return `${call.namespace ?? "functions"}.${call.name}`;
}

export function renderConversation(input: RenderInput): RenderedPrompt {
  const b = new PromptBuilder(getHarmonyTokenizer(), input.tokenLimit);
  const tools = input.tools ?? [];
  b.message("system", undefined, systemMessage(input, tools.length > 0));
  const developer = developerMessage(
    input.instructions,
    tools,
    input.toolNamespaces ?? [],
    input.responseFormat,
  );
  if (developer !== undefined) b.message("developer", undefined, developer);

  // Analysis is replayed only after the last final answer: the reasoning of a tool-call loop
  // still running. Finished turns lose theirs (the model was trained that way).
  let lastFinal = -1;
  input.messages.forEach((m, i) => {
    if (isFinalAnswer(m)) lastFinal = i;
  });
  // Call id → the recipient a result comes back from (`functions.f`, `ns.f`).
  const callNames = new Map<string, string>();
  let lastCallName: string | undefined;

  input.messages.forEach((m, i) => {
    switch (m.role) {
      case "user":
        b.message("user", undefined, m.content);
        break;
      case "assistant":
        for (const call of m.toolCalls ?? []) {
          callNames.set(call.id, recipientOf(call));
          lastCallName = recipientOf(call);
        }
        renderAssistant(b, m, i > lastFinal);
        break;
      case "tool": {
        const byId = m.toolCallId === undefined ? undefined : callNames.get(m.toolCallId);
        const from =
          m.name !== "" ? recipientOf({ name: m.name, namespace: m.namespace }) : (byId ?? lastCallName);
        b.message(from ?? "functions.unknown", "commentary", m.content, "assistant");
        break;
      }
    }
  });

  b.special("start");
  b.text("assistant");
  return b.rendered();
}
