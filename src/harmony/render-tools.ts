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
 */
import type { FunctionTool, JsonSchema } from "./types.ts";

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
  const params = tool.parameters;
  const props = params === undefined ? undefined : params["properties"];
  if (params === undefined || !isSchema(props) || Object.keys(props).length === 0) {
    return `${out}type ${tool.name} = () => any;\n`;
  }
  return `${out}type ${tool.name} = (_: {\n${renderProperties(params, "")}}) => any;\n`;
}

/** The `## functions` section of the developer message's `# Tools`. Empty string for no tools. */
export function renderFunctionsNamespace(tools: readonly FunctionTool[]): string {
  if (tools.length === 0) return "";
  const parts = ["## functions\n", "namespace functions {\n"];
  for (const tool of tools) parts.push(renderFunction(tool));
  parts.push("} // namespace functions");
  return parts.join("\n");
}
