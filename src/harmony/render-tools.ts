/**
 * Function tools → the TypeScript-like namespace gpt-oss was trained on (shared/design/harmony.md,
 * "The developer message"; byte layout after openai-harmony's render_tool_namespace and the
 * official chat template):
 *
 *   ## functions
 *
 *   namespace functions {
 *
 *   // Gets the weather
 *   type get_weather = (_: {
 *   // City name
 *   location: string,
 *   unit?: "c" | "f", // default: c
 *   }) => any;
 *
 *   } // namespace functions
 *
 * Descriptions become `//` lines, optional properties get `?`, enums become unions, a function
 * without properties is `() => any`. Enum defaults are written bare, other defaults as JSON (both
 * references do so). Nested objects are indented by four spaces per level.
 *
 * Tools of other namespaces (the Responses API's `namespace` tools) get a block of their own, laid
 * out as openai-harmony's template_tools_section lays out any namespace: `## name`, the namespace's
 * description as `//` lines, `namespace name {` … `} // namespace name`; blocks in name order (its
 * BTreeMap). A freeform tool (Responses `custom`) is `type name = (FREEFORM) => any;`, the form
 * OpenAI's own prompts use for raw-text tools, its grammar (if any) as `//` lines above it.
 */
import type { FunctionTool, JsonSchema, ToolNamespace } from "./types.ts";

const INDENT = "    ";

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One `//` line per line of text (a trailing newline adds no empty comment, as in openai-harmony). */
function commentLines(text: string, indent: string): string {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  let out = "";
  for (const line of lines) out += `${indent}// ${line}\n`;
  return out;
}

function literal(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

function schemaVariants(schema: JsonSchema): JsonSchema[] | undefined {
  const variants = schema["oneOf"] ?? schema["anyOf"];
  return Array.isArray(variants) ? variants.filter(isSchema) : undefined;
}

function objectType(schema: JsonSchema, indent: string): string {
  const properties = schema["properties"];
  if (!isSchema(properties) || Object.keys(properties).length === 0) return "object";
  return `{\n${renderProperties(schema, indent + INDENT)}${indent}}`;
}

/** One JSON Schema → a TypeScript type expression; anything unrecognised is `any`. */
export function schemaToTypeScript(schema: JsonSchema, indent = ""): string {
  const nullable = schema["nullable"] === true ? " | null" : "";
  if (Array.isArray(schema["enum"]) && schema["enum"].length > 0) {
    return schema["enum"].map(literal).join(" | ") + nullable;
  }
  if ("const" in schema) return literal(schema["const"]) + nullable;
  const variants = schemaVariants(schema);
  if (variants !== undefined && variants.length > 0) {
    return variants.map((v) => schemaToTypeScript(v, indent)).join(" | ") + nullable;
  }
  const type = schema["type"];
  if (Array.isArray(type)) {
    // Each listed type once: ["object", "object", ...] nested would render its properties n^depth times.
    return [...new Set(type)]
      .map((t) => schemaToTypeScript({ ...schema, type: t, nullable: false }, indent))
      .join(" | ");
  }
  switch (type) {
    case "string":
      return "string" + nullable;
    case "number":
    case "integer":
      return "number" + nullable;
    case "boolean":
      return "boolean" + nullable;
    case "null":
      return "null";
    case "array": {
      const items = schema["items"];
      if (!isSchema(items)) return "any[]" + nullable;
      const inner = schemaToTypeScript(items, indent);
      return (inner.includes(" | ") ? `(${inner})[]` : `${inner}[]`) + nullable;
    }
    case "object":
      return objectType(schema, indent) + nullable;
    default:
      return isSchema(schema["properties"]) ? objectType(schema, indent) + nullable : "any";
  }
}

/** The `name?: type, // default: x` lines of an object schema, each ending in a newline. */
function renderProperties(schema: JsonSchema, indent: string): string {
  const properties = schema["properties"];
  if (!isSchema(properties)) return "";
  const required = new Set(Array.isArray(schema["required"]) ? schema["required"].map(String) : []);
  let out = "";
  for (const [name, raw] of Object.entries(properties)) {
    const prop = isSchema(raw) ? raw : {};
    const description = prop["description"];
    if (typeof description === "string" && description !== "") out += commentLines(description, indent);
    const optional = required.has(name) ? "" : "?";
    out += `${indent}${name}${optional}: ${schemaToTypeScript(prop, indent)},`;
    if ("default" in prop) {
      const value = prop["default"];
      const bare = Array.isArray(prop["enum"]) && typeof value === "string";
      out += ` // default: ${bare ? value : literal(value)}`;
    }
    out += "\n";
  }
  return out;
}

function renderFunction(tool: FunctionTool): string {
  let out = "";
  if (tool.description !== undefined && tool.description !== "") out += commentLines(tool.description, "");
  if (tool.freeform !== undefined) {
    if (tool.freeform.type === "grammar") {
      out += `// FREEFORM input in this ${tool.freeform.syntax} grammar:\n`;
      out += commentLines(tool.freeform.definition, "");
    }
    return `${out}type ${tool.name} = (FREEFORM) => any;\n`;
  }
  const params = tool.parameters;
  const props = params === undefined ? undefined : params["properties"];
  if (params === undefined || !isSchema(props) || Object.keys(props).length === 0) {
    return `${out}type ${tool.name} = () => any;\n`;
  }
  return `${out}type ${tool.name} = (_: {\n${renderProperties(params, "")}}) => any;\n`;
}

/** One `## name` … `} // namespace name` block. */
function renderNamespace(
  name: string,
  description: string | undefined,
  tools: readonly FunctionTool[],
): string {
  const parts = [`## ${name}\n`];
  if (description !== undefined && description !== "") parts.push(commentLines(description, "").slice(0, -1));
  parts.push(`namespace ${name} {\n`);
  for (const tool of tools) parts.push(renderFunction(tool));
  parts.push(`} // namespace ${name}`);
  return parts.join("\n");
}

/** The `## functions` section of the developer message's `# Tools`. Empty string for no tools. */
export function renderFunctionsNamespace(tools: readonly FunctionTool[]): string {
  if (tools.length === 0) return "";
  return renderNamespace("functions", undefined, tools);
}

/**
 * Every namespace's block, `functions` included, joined by a blank line (the body of `# Tools`).
 * Empty string for no tools.
 */
export function renderToolNamespaces(
  tools: readonly FunctionTool[],
  namespaces: readonly ToolNamespace[] = [],
): string {
  const groups = new Map<string, FunctionTool[]>();
  for (const tool of tools) {
    const name = tool.namespace ?? "functions";
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [tool]);
    else group.push(tool);
  }
  const descriptions = new Map(namespaces.map((ns) => [ns.name, ns.description]));
  return [...groups.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => renderNamespace(name, descriptions.get(name), groups.get(name) ?? []))
    .join("\n\n");
}
