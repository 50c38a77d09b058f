/**
 * The agent scenario's conversation: a Codex-like coding agent (a system prompt of instructions,
 * five function tools with JSON-schema parameters, one user task), grown each turn by the
 * assistant's tool call and that tool's result, as an agent loop re-sends its whole transcript.
 *
 * Every server must see the same growth, so when an answer makes no tool call (random-weight test
 * models rarely do; a real model may just talk) the transcript gets a synthetic one instead, picked
 * from the session's seed. Tool results are seeded text of an exact length in gpt-oss tokens
 * (PromptFactory), so a turn adds the same tokens on every server that called the same tool.
 */
import { seededRandom } from "./arrival-schedule.ts";
import type { PromptFactory } from "./prompt-factory.ts";
import type { ToolCallResult } from "./request-result.ts";

export type ChatMessage =
  | { role: "system" | "user"; content: string }
  | {
      role: "assistant";
      content: string | null;
      tool_calls: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }>;
    }
  | { role: "tool"; tool_call_id: string; content: string };

const SYSTEM_PROMPT = [
  "You are a coding agent running in a terminal, working in a user's git repository. You and the user",
  "share the same workspace and collaborate to achieve the user's goals. Be precise, safe and helpful.",
  "",
  "How you work:",
  "- Read before you write: list directories and open the files you are about to change.",
  "- Make the smallest change that solves the task; keep the repository's style and conventions.",
  "- Edit files with apply_patch only. Never rewrite a whole file to change a few lines.",
  "- Run the project's tests and linters for what you changed, and fix what they report.",
  "- Never run destructive commands (rm -rf, git reset --hard, force pushes) unless asked to.",
  "- When a command fails, read its output and try a different approach instead of repeating it.",
  "- Call one tool at a time and wait for its result before deciding the next step.",
  "",
  "When you are done, reply with a short summary of what you changed and how you verified it,",
  "naming the files you touched. If you could not finish, say what is left and why.",
].join("\n");

const TOOL_DEFINITIONS: Array<{ name: string; description: string; parameters: Record<string, unknown> }> = [
  {
    name: "shell",
    description: "Runs a shell command in the repository and returns its exit code and output.",
    parameters: {
      type: "object",
      properties: {
        command: { type: "array", items: { type: "string" }, description: "argv of the command" },
        workdir: { type: "string", description: "working directory, relative to the repository" },
        timeout_ms: { type: "number", description: "kill the command after this many milliseconds" },
      },
      required: ["command"],
      additionalProperties: false,
    },
  },
  {
    name: "apply_patch",
    description: "Applies a patch in the apply_patch format (*** Begin Patch ... *** End Patch).",
    parameters: {
      type: "object",
      properties: { input: { type: "string", description: "the whole patch" } },
      required: ["input"],
      additionalProperties: false,
    },
  },
  {
    name: "read_file",
    description: "Returns a file's lines, numbered, from offset for at most limit lines.",
    parameters: {
      type: "object",
      properties: {
        path: { type: "string" },
        offset: { type: "number", description: "first line, 1-based" },
        limit: { type: "number", description: "how many lines" },
      },
      required: ["path"],
      additionalProperties: false,
    },
  },
  {
    name: "list_dir",
    description: "Lists a directory's entries, recursively up to depth.",
    parameters: {
      type: "object",
      properties: { path: { type: "string" }, depth: { type: "number" } },
      required: ["path"],
      additionalProperties: false,
    },
  },
  {
    name: "grep",
    description: "Searches the repository for a regular expression; returns matching lines with paths.",
    parameters: {
      type: "object",
      properties: { pattern: { type: "string" }, path: { type: "string" } },
      required: ["pattern"],
      additionalProperties: false,
    },
  },
];

/** The `tools` array every turn sends. */
export const AGENT_TOOLS = TOOL_DEFINITIONS.map((t) => ({ type: "function" as const, function: t }));

const TASKS = [
  "The CSV export drops rows whose notes contain a newline. Find the cause, fix it and add a test.",
  "Add a --dry-run flag to the sync command that prints what it would change without writing.",
  "Requests through the proxy time out after 30 s even when the upstream answers. Find out why.",
  "Rename the config key `retries` to `max_retries`, keeping the old key working with a warning.",
];

const FILES = ["src/export/csv.ts", "src/cli/sync.ts", "src/proxy/upstream.ts", "src/config/load.ts"];

/** The synthetic call for turn `turn` (1-based): a fixed cycle of realistic calls. */
export function syntheticToolCall(session: number, turn: number): ToolCallResult {
  const file = FILES[session % FILES.length] as string;
  const cycle: Array<[string, Record<string, unknown>]> = [
    ["list_dir", { path: "src", depth: 2 }],
    ["grep", { pattern: "export function", path: file }],
    ["read_file", { path: file, offset: 1, limit: 200 }],
    ["shell", { command: ["npm", "test", "--", file.replace(/\.ts$/, ".test.ts")] }],
    [
      "apply_patch",
      { input: `*** Begin Patch\n*** Update File: ${file}\n@@\n-  old\n+  new\n*** End Patch` },
    ],
  ];
  const [name, args] = cycle[(turn - 1) % cycle.length] as [string, Record<string, unknown>];
  return { id: `call_s${session}_t${turn}`, name, arguments: JSON.stringify(args) };
}

/** A usable call of the answer (a known tool, JSON arguments), or undefined. */
function modelToolCall(calls: readonly ToolCallResult[] | undefined): ToolCallResult | undefined {
  const call = calls?.find((c) => c !== undefined && TOOL_DEFINITIONS.some((t) => t.name === c.name));
  if (call === undefined) return undefined;
  try {
    JSON.parse(call.arguments);
  } catch {
    return undefined;
  }
  return call;
}

export interface AgentTranscriptOptions {
  session: number;
  seed: number;
  turns: number;
  toolResultTokens: number;
}

/** One session's transcript: `messages` for the next turn, `advance()` after each answer. */
export class AgentTranscript {
  readonly messages: ChatMessage[];
  /** Turns whose tool call came from the model (the others got a synthetic one). */
  modelCalls = 0;
  #turn = 0;
  readonly #options: AgentTranscriptOptions;
  /** Every turn's tool result, built up front so that no tokenizing happens while timing. */
  readonly #results: string[];

  constructor(options: AgentTranscriptOptions, prompts: PromptFactory) {
    this.#options = options;
    const random = seededRandom(options.seed * 7919 + options.session);
    this.#results = Array.from({ length: options.turns }, () =>
      prompts.prompt(options.toolResultTokens, random),
    );
    this.messages = [
      { role: "system", content: SYSTEM_PROMPT },
      {
        role: "user",
        content: `${TASKS[options.session % TASKS.length] as string} (session ${options.session}, seed ${options.seed})`,
      },
    ];
  }

  /** Appends the assistant's tool call (the model's, or a synthetic one) and the tool's result. */
  advance(answerToolCalls: readonly ToolCallResult[] | undefined): { fromModel: boolean } {
    this.#turn += 1;
    const fromModel = modelToolCall(answerToolCalls);
    const call = fromModel ?? syntheticToolCall(this.#options.session, this.#turn);
    if (fromModel !== undefined) this.modelCalls += 1;
    const id = call.id.length > 0 ? call.id : `call_s${this.#options.session}_t${this.#turn}`;
    this.messages.push(
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id, type: "function", function: { name: call.name, arguments: call.arguments } }],
      },
      { role: "tool", tool_call_id: id, content: this.#results[this.#turn - 1] ?? "" },
    );
    return { fromModel: fromModel !== undefined };
  }
}
