/**
 * Function tools → the TypeScript-like namespace gpt-oss was trained on (shared/design/harmony.md,
 * "The developer message"). The byte layout is openai/harmony's (src/encoding.rs,
 * json_schema_to_typescript and template_tools_section, at ec7606d), golden-tested in
 * render-tools.golden.test.ts:
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
 * Harmony's rules, followed as it writes them (quirks included, since vLLM and the gpt-oss
 * reference servers render through it): a property's title is `// title` + `//`, then its
 * description, then `// Examples:` with `// - "x"` per string example; string defaults are quoted
 * unless the property is an enum; `nullable` appends ` | null` unless the type already says null;
 * an object's own description is written before its `{` (so the top-level one reads
 * `(_: // description\n{`, and a nested object's description appears on its property line too);
 * nested properties are indented four spaces and the nested `}` sits at that indent; array items
 * get no parentheses and an array without items is `Array<any>`; `oneOf` is a multi-line union,
 * ` | variant // description default: x` a line, then `,` on its own line.
 *
 * Deliberate differences, each where harmony has no rule and would drop what the schema says:
 * `anyOf` is laid out as harmony lays out `oneOf` (harmony: `any`; Pydantic and zod emit anyOf);
 * `const` and an `enum` not under `type: "string"` are literals (harmony: the bare type or `any`,
 * which hides a discriminated union's tags); `type: "null"` is `null` (harmony: `any`); an object
 * without `type` but with properties is an object (harmony: `any`). A multi-line description,
 * title or example is one `//` line per line (harmony's own rule for tool descriptions; its raw
 * newline would leave later lines uncommented), and in a trailing comment its lines are joined by
 * a space. Parameters without properties (and no union) are `() => any`, as the gpt-oss chat
 * template (chat_template.jinja, render_tool_namespace) and harmony.md write them; harmony itself
 * writes `(_: {\n}) => any` for an empty object.
 *
 * Tools of other namespaces (the Responses API's `namespace` tools) get a block of their own, laid
 * out as openai-harmony's template_tools_section lays out any namespace: `## name`, the namespace's
 * description as `//` lines, `namespace name {` … `} // namespace name`; blocks in name order (its
 * BTreeMap). A freeform tool (Responses `custom`) is `type name = (FREEFORM) => any;`, the form
 * OpenAI's own prompts use for raw-text tools, its grammar (if any) as `//` lines above it.
 */
import type { FunctionTool, JsonSchema, ToolNamespace } from "./types.ts";

const INDENT = "    ";
const VARIANT_INDENT = "   ";

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function has(schema: JsonSchema, key: string): boolean {
  return Object.hasOwn(schema, key);
}

function str(schema: JsonSchema, key: string): string | undefined {
  const value = schema[key];
  return typeof value === "string" ? value : undefined;
}

/** One `//` line per line of text (a trailing newline adds no empty comment, as in openai-harmony). */
function commentLines(text: string, indent: string): string {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  let out = "";
  for (const line of lines) out += `${indent}// ${line}\n`;
  return out;
}

/** Text for a trailing `// …` comment, kept on one line. */
function oneLine(text: string): string {
  return text.split(/\r?\n/).join(" ");
}

/** serde_json's compact Display of a value (what harmony prints for non-string defaults). */
function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

function isEnum(schema: JsonSchema): boolean {
  return Array.isArray(schema["enum"]) && schema["enum"].length > 0;
}

/** Harmony's property default: a string quoted unless the schema is an enum, else JSON. */
function defaultText(schema: JsonSchema): string {
  const value = schema["default"];
  if (typeof value === "string") return isEnum(schema) ? value : `"${value}"`;
  return json(value);
}

/** A string literal as harmony writes enum members: quoted, not escaped. */
function literal(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : json(value);
}

/** `oneOf` (harmony), else `anyOf` (ours: harmony has no rule for it). */
function unionKey(schema: JsonSchema): "oneOf" | "anyOf" | undefined {
  if (has(schema, "oneOf")) return "oneOf";
  if (has(schema, "anyOf")) return "anyOf";
  return undefined;
}

function unionVariants(schema: JsonSchema): unknown[] | undefined {
  const key = unionKey(schema);
  const value = key === undefined ? undefined : schema[key];
  return Array.isArray(value) ? value : undefined;
}

function asSchema(value: unknown): JsonSchema {
  return isSchema(value) ? value : {};
}

/** Harmony's `nullable`: ` | null` unless the type text already contains "null". */
function withNullable(schema: JsonSchema, type: string): string {
  return schema["nullable"] === true && !type.includes("null") ? `${type} | null` : type;
}

/** A union outside a property: `\n{indent} | variant // comments` per variant (harmony's top-level oneOf). */
function renderUnion(variants: readonly unknown[], indent: string): string {
  let out = "";
  for (const raw of variants) {
    const variant = asSchema(raw);
    out += `\n${indent} | ${withNullable(variant, schemaToTypeScript(variant, indent + VARIANT_INDENT))}`;
    const comments: string[] = [];
    const description = str(variant, "description");
    if (description !== undefined) comments.push(oneLine(description));
    if (has(variant, "default")) {
      const value = variant["default"];
      // Harmony's top-level branch quotes every string default, an enum's too (JSON Display).
      comments.push(`default: ${typeof value === "string" && !isEnum(variant) ? `"${value}"` : json(value)}`);
    }
    if (comments.length > 0) out += ` // ${comments.join(" ")}`;
  }
  return out;
}

/** An object: its description before `{`, its properties at `indent`, `}` at `indent` (harmony). */
function objectType(schema: JsonSchema, indent: string): string {
  let out = "";
  const description = str(schema, "description");
  if (description !== undefined) out += commentLines(description, indent);
  return `${out}{\n${renderProperties(schema, indent)}${indent}}`;
}

/** One JSON Schema → a TypeScript type expression, as harmony's json_schema_to_typescript. */
export function schemaToTypeScript(schema: JsonSchema, indent = ""): string {
  const variants = unionVariants(schema);
  if (variants !== undefined) return renderUnion(variants, indent);
  // Ours (harmony has no rule): const, and enums harmony does not read (it reads them under type string only).
  if (has(schema, "const")) return literal(schema["const"]);
  const type = schema["type"];
  if (isEnum(schema) && type !== "string") return (schema["enum"] as unknown[]).map(literal).join(" | ");
  if (Array.isArray(type)) {
    const names = type
      .filter((t): t is string => typeof t === "string")
      .map((t) => (t === "integer" ? "number" : t));
    if (names.length > 0) return names.join(" | ");
    return "any";
  }
  switch (type) {
    case "object":
      return objectType(schema, indent);
    case "string": {
      const values = Array.isArray(schema["enum"]) ? schema["enum"].filter((v) => typeof v === "string") : [];
      return values.length > 0 ? values.map(literal).join(" | ") : "string";
    }
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return has(schema, "items")
        ? `${schemaToTypeScript(asSchema(schema["items"]), indent)}[]`
        : "Array<any>";
    case "null":
      return "null"; // ours: harmony writes any
    case undefined:
      return isSchema(schema["properties"]) ? objectType(schema, indent) : "any"; // ours: harmony writes any
    default:
      return "any";
  }
}

/** A property whose schema is a union: harmony's multi-line layout, comments above and per variant. */
function renderUnionProperty(
  name: string,
  optional: string,
  prop: JsonSchema,
  variants: readonly unknown[],
  indent: string,
): string {
  let out = "";
  const propertyDesc = str(prop, "description");
  const first = variants[0];
  const skip = propertyDesc !== undefined && isSchema(first) && str(first, "description") === propertyDesc;
  const renderedAbove = !skip && propertyDesc !== undefined;
  if (renderedAbove) out += commentLines(propertyDesc, indent);
  if (has(prop, "default")) out += `${indent}// default: ${defaultText(prop)}\n`;
  out += `${indent}${name}${optional}:\n`;
  variants.forEach((raw, i) => {
    const variant = asSchema(raw);
    out += `${indent} | ${withNullable(variant, schemaToTypeScript(variant, indent + VARIANT_INDENT))}`;
    const comments: string[] = [];
    const description = str(variant, "description");
    if (!(i === 0 && renderedAbove) && description !== undefined && description !== propertyDesc) {
      comments.push(oneLine(description));
    }
    if (has(variant, "default")) comments.push(`default: ${defaultText(variant)}`);
    if (comments.length > 0) out += ` // ${comments.join(" ")}`;
    out += "\n";
  });
  return `${out}${indent},\n`;
}

/** The property lines of an object schema at `indent`, each ending in a newline (harmony's object case). */
function renderProperties(schema: JsonSchema, indent: string): string {
  const properties = schema["properties"];
  if (!isSchema(properties)) return "";
  const required = new Set(
    Array.isArray(schema["required"]) ? schema["required"].filter((r) => typeof r === "string") : [],
  );
  let out = "";
  for (const [name, raw] of Object.entries(properties)) {
    const prop = asSchema(raw);
    const title = str(prop, "title");
    if (title !== undefined) out += `${commentLines(title, indent)}${indent}//\n`;
    const union = unionKey(prop) !== undefined;
    const description = str(prop, "description");
    if (!union && description !== undefined) out += commentLines(description, indent);
    const examples = prop["examples"];
    if (Array.isArray(examples) && examples.length > 0) {
      out += `${indent}// Examples:\n`;
      for (const example of examples)
        if (typeof example === "string") out += commentLines(`- "${example}"`, indent);
    }
    const optional = required.has(name) ? "" : "?";
    const variants = unionVariants(prop);
    if (variants !== undefined) {
      out += renderUnionProperty(name, optional, prop, variants, indent);
      continue;
    }
    out += `${indent}${name}${optional}: ${withNullable(prop, schemaToTypeScript(prop, indent + INDENT))},`;
    if (!union && has(prop, "default")) out += ` // default: ${defaultText(prop)}`;
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
  const hasProps = isSchema(props) && Object.keys(props).length > 0;
  if (params === undefined || (!hasProps && unionVariants(params) === undefined)) {
    return `${out}type ${tool.name} = () => any;\n`;
  }
  return `${out}type ${tool.name} = (_: ${schemaToTypeScript(params, "")}) => any;\n`;
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
