/**
 * The Responses API's tool dialects → domain tools (serving-request.ts):
 *
 * - `function`: a function in harmony's `functions` namespace, as in Chat Completions;
 * - `namespace` ({name, description, tools: [function | custom]}, Codex's tool groups): a harmony
 *   namespace of its own, called as `to={namespace}.{tool}`; a namespace named `functions` is the
 *   default one (Codex folds its plain functions into it);
 * - `custom` (freeform): raw text input instead of JSON, its `text` or `grammar` format shown to the
 *   model, a `regex` grammar also enforced (freeform-grammar.ts); the call comes back as a
 *   `custom_tool_call` with `input`;
 * - hosted tools (`web_search`, `file_search`, `code_interpreter`, `mcp`, ...): this server cannot run
 *   them, so they are left out of the prompt and reported (the route sends a warning header and logs
 *   it), unless `--strict-tools` makes them a 400.
 */
import { z } from "zod";
import { ServerError } from "../errors/server-error.ts";
import type { CustomToolWire, FunctionToolWire, ToolChoiceWire, ToolWire } from "../protocol/responses.ts";
import { freeformRule } from "./freeform-grammar.ts";
import { toolKey } from "./harmony-grammar.ts";
import { assertSupportedSchema } from "./json-schema-support.ts";
import type { DomainFunctionTool, DomainToolNamespace, FreeformInput } from "./serving-request.ts";
import { zodToServerErrorAt } from "./zod-error.ts";

const toolName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, "function names use letters, digits, _ . - (max 64)");

/** No "." in a namespace: the recipient `ns.tool` must split at its first dot. */
const namespaceName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "namespace names use letters, digits, _ - (max 64)");

const functionTool = z.object({
  type: z.literal("function"),
  name: toolName,
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const customTool = z.object({
  type: z.literal("custom"),
  name: toolName,
  description: z.string().nullish(),
  format: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("grammar"), syntax: z.string().min(1), definition: z.string() }),
    ])
    .nullish(),
});

const namespaceTool = z.object({
  type: z.literal("namespace"),
  name: namespaceName,
  description: z.string().nullish(),
  tools: z.array(z.object({ type: z.string() }).loose()),
});

export interface ParsedTools {
  tools: DomainFunctionTool[];
  /** Descriptions of the namespaces other than `functions`. */
  namespaces: DomainToolNamespace[];
  /** What the response echoes: the tools as the client sent them (hosted ones included). */
  echo: ToolWire[];
  /** The types of the hosted tools left out of the prompt, once each, in request order. */
  leftOut: string[];
}

function hostedToolError(type: string, param: string): ServerError {
  return new ServerError(
    "unsupported_tool",
    `${param}: tool type '${type}' is a hosted tool this server cannot run ` +
      "(--strict-tools is set; without it such tools are left out with a warning)",
    { param },
  );
}

function parseFunction(raw: object, param: string, namespace: string | undefined): DomainFunctionTool {
  const parsed = functionTool.safeParse(raw);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, param, raw);
  const t: FunctionToolWire = parsed.data;
  // A strict function promises schema-valid arguments: refuse what the grammar cannot enforce
  // (the same rule as Chat Completions).
  if (t.strict === true && t.parameters !== null && t.parameters !== undefined) {
    assertSupportedSchema(t.parameters, `${param}.parameters`);
  }
  return {
    name: t.name,
    ...(typeof t.description === "string" ? { description: t.description } : {}),
    ...(t.parameters !== null && t.parameters !== undefined ? { parameters: t.parameters } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
  };
}

function parseCustom(raw: object, param: string, namespace: string | undefined): DomainFunctionTool {
  const parsed = customTool.safeParse(raw);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, param, raw);
  const t: CustomToolWire = parsed.data;
  const format = t.format ?? { type: "text" };
  const freeform: FreeformInput =
    format.type === "grammar"
      ? { type: "grammar", syntax: format.syntax, definition: format.definition }
      : { type: "text" };
  const compiled = freeformRule(freeform);
  if (!compiled.ok) {
    throw new ServerError("invalid_value", `${param}.format.definition: the regex ${compiled.reason}`, {
      param: `${param}.format.definition`,
    });
  }
  return {
    name: t.name,
    ...(typeof t.description === "string" ? { description: t.description } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    freeform,
  };
}

/** The tools of one `namespace` tool; `functions` is the default namespace (no prefix). */
function parseNamespace(raw: object, param: string, out: ParsedTools): void {
  const parsed = namespaceTool.safeParse(raw);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, param, raw);
  const ns = parsed.data;
  const namespace = ns.name === "functions" ? undefined : ns.name;
  if (namespace !== undefined && typeof ns.description === "string" && ns.description !== "") {
    out.namespaces.push({ name: namespace, description: ns.description });
  }
  ns.tools.forEach((tool, j) => {
    const at = `${param}.tools.${j}`;
    if (tool.type === "function") out.tools.push(parseFunction(tool, at, namespace));
    else if (tool.type === "custom") out.tools.push(parseCustom(tool, at, namespace));
    else {
      throw new ServerError(
        "invalid_value",
        `${at}.type: a namespace holds function and custom tools, not '${tool.type}'`,
        { param: `${at}.type` },
      );
    }
  });
}

/** `tools` of a Responses request → domain tools, namespaces, the echo and what was left out. */
export function parseResponsesTools(
  wire: ReadonlyArray<{ type: string; [key: string]: unknown }>,
  strictTools: boolean,
): ParsedTools {
  const out: ParsedTools = { tools: [], namespaces: [], echo: [], leftOut: [] };
  wire.forEach((tool, i) => {
    const param = `tools.${i}`;
    switch (tool.type) {
      case "function":
        out.tools.push(parseFunction(tool, param, undefined));
        break;
      case "custom":
        out.tools.push(parseCustom(tool, param, undefined));
        break;
      case "namespace":
        parseNamespace(tool, param, out);
        break;
      default:
        if (strictTools) throw hostedToolError(tool.type, `${param}.type`);
        if (!out.leftOut.includes(tool.type)) out.leftOut.push(tool.type);
    }
    out.echo.push(tool);
  });
  const seen = new Set<string>();
  out.tools.forEach((tool) => {
    const key = toolKey(tool);
    if (seen.has(key)) {
      throw new ServerError("invalid_value", `tools: '${key}' is defined twice`, { param: "tools" });
    }
    seen.add(key);
  });
  return out;
}

/**
 * The tool a name means: its key (`ns.tool`, or the bare name in `functions`), else the one tool of
 * that bare name in any namespace (a model may drop the namespace, as it drops `functions.`).
 */
export function findTool(tools: readonly DomainFunctionTool[], name: string): DomainFunctionTool | undefined {
  const exact = tools.find((t) => toolKey(t) === name);
  if (exact !== undefined) return exact;
  const bare = name.startsWith("functions.") ? name.slice("functions.".length) : name;
  const byName = tools.filter((t) => t.name === bare || toolKey(t) === bare);
  return byName.length === 1 ? byName[0] : undefined;
}

/** `tool_choice` → the domain's; a named tool must be one of `tools` (of its kind). */
export function resolveToolChoice(
  choice: ToolChoiceWire,
  tools: readonly DomainFunctionTool[],
): "auto" | "none" | "required" | { name: string } {
  if (typeof choice === "string") {
    if (choice !== "auto" && choice !== "none" && tools.length === 0) {
      throw new ServerError("invalid_value", "tool_choice requires a tool call, but tools is empty", {
        param: "tool_choice",
      });
    }
    return choice;
  }
  const tool = findTool(tools, choice.name);
  if (tool === undefined || (choice.type === "custom") !== (tool.freeform !== undefined)) {
    const kind = choice.type === "custom" ? "custom tool" : "function";
    throw new ServerError(
      "invalid_value",
      `tool_choice names the ${kind} '${choice.name}', which is not in tools`,
      {
        param: "tool_choice.name",
      },
    );
  }
  return { name: toolKey(tool) };
}
