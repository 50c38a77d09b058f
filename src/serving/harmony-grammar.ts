/**
 * Structured output and tool calls → one grammar over the whole harmony output (docs/adr/0002).
 * The prompt ends with `<|start|>assistant`; the grammar continues from there:
 *
 *   root      ::= analysis | after
 *   analysis  ::= <|channel|> "analysis" <|message|> free <|end|><|start|> "assistant" after
 *   after     ::= preamble | end                      (a preamble only when tools can be called)
 *   preamble  ::= <|channel|> "commentary" <|message|> free <|end|><|start|> "assistant" calls
 *   end       ::= final | calls                       (final and calls as the request allows)
 *   calls     ::= call-0 | call-1 …
 *   final     ::= <|channel|> "final" <|message|> (JSON for the response format | free)
 *   call-i    ::= <|channel|> ("commentary"|"analysis") " to=functions.NAME" constrain <|message|> ARGS
 *               | " to=functions.NAME" <|channel|> … (the recipient in the role part)
 *
 * A tool of another namespace (Responses `namespace` tools) is called as ` to=NAMESPACE.NAME`; a
 * freeform tool's ARGS are free text, or the text its `regex` format matches (a `lark` grammar is shown
 * to the model, not enforced).
 *
 * `free` is any text without a control token, so the model reasons (and writes preambles) as it
 * likes; only the final answer's body and a call's arguments are constrained. The message order is
 * the one gpt-oss produces in a turn: at most one analysis, then the answer, or a call with at most
 * one preamble before it; a model cannot loop through empty analyses until it runs out of tokens. The grammar is
 * complete only after a final answer or a call, so a stop token can only be sampled there.
 * Which stop token is the model's choice, except that a stop the request cannot end with
 * (`<|return|>` when a call is required, `<|call|>` when no tool can be called) is banned.
 */
import type { GenerationGrammar } from "../engines/engine.ts";
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { freeformRule } from "./freeform-grammar.ts";
import { findSchemaProblems } from "./json-schema-support.ts";
import { GbnfRuleSet, gbnfLiteral } from "./json-schema-gbnf.ts";
import type { DomainFunctionTool, ResponseFormat, ServingRequest } from "./serving-request.ts";

export interface OutputConstraintInput {
  tools: readonly DomainFunctionTool[];
  toolChoice: ServingRequest["toolChoice"];
  responseFormat: ResponseFormat;
  /**
   * A random-weight model (random-weights-steering.ts): under tool_choice "auto" it answers rather
   * than calls. Its noise would call some tool on most turns, and no client's agent loop would
   * ever end; forced calls (required, a named tool) still call.
   */
  answerInsteadOfCalls?: boolean;
}

export interface OutputConstraint {
  grammar: GenerationGrammar;
  /** Stop tokens this output must not end with: serving bans them with logit bias. */
  bannedStopTokens: number[];
  /** True when the grammar is what makes the request's promise (JSON, a required call) hold. */
  required: boolean;
}

const tok = (id: number): string => `<[${id}]>`;
const T = {
  start: tok(SPECIAL_TOKENS.start),
  end: tok(SPECIAL_TOKENS.end),
  message: tok(SPECIAL_TOKENS.message),
  channel: tok(SPECIAL_TOKENS.channel),
  constrain: tok(SPECIAL_TOKENS.constrain),
};

/**
 * How a tool is named in `tool_choice` and in the parser's tool-call events: its name, prefixed by
 * its namespace when it has one other than `functions` (the recipient without `functions.`).
 */
export function toolKey(tool: Pick<DomainFunctionTool, "name" | "namespace">): string {
  return tool.namespace === undefined ? tool.name : `${tool.namespace}.${tool.name}`;
}

/** The functions a request may call, in `tools` order. */
function callableTools(input: OutputConstraintInput): readonly DomainFunctionTool[] {
  const choice = input.toolChoice;
  if (choice === "none") return [];
  if (choice === "auto" && input.answerInsteadOfCalls === true) return [];
  if (typeof choice === "object") return input.tools.filter((t) => toolKey(t) === choice.name);
  return input.tools;
}

/**
 * A function's arguments: its parameters schema when the grammar can enforce it, otherwise any
 * JSON object (a non-strict tool; request parsers reject strict ones with unsupported keywords).
 */
function argumentsRule(rules: GbnfRuleSet, tool: DomainFunctionTool): string {
  if (tool.freeform !== undefined) {
    // Raw text: free, or a regex format compiled (freeform-grammar.ts; parsers refuse what is not).
    const compiled = freeformRule(tool.freeform);
    if (!compiled.ok || compiled.gbnf === undefined) return "h-free";
    return rules.set(`input-${toolKey(tool).replace(/[^A-Za-z0-9]+/g, "-")}`, compiled.gbnf);
  }
  const params = tool.parameters;
  if (params === undefined || findSchemaProblems(params).length > 0) return rules.primitive("j-object");
  const hasShape = params["type"] !== undefined || params["properties"] !== undefined;
  return hasShape ? rules.schema(params, `args-${toolKey(tool)}`) : rules.primitive("j-object");
}

/** The grammar for a request, or undefined when nothing needs constraining. */
export function buildOutputConstraint(input: OutputConstraintInput): OutputConstraint | undefined {
  const tools = callableTools(input);
  const format = input.responseFormat;
  const mustCall = input.toolChoice === "required" || typeof input.toolChoice === "object";
  // (A random-weight model answering instead of calling still gets the grammar: its shape and its
  // steering are what end the answer.)
  const answering = input.answerInsteadOfCalls === true && input.tools.length > 0;
  if (tools.length === 0 && format.type === "text" && !answering) return undefined;

  const rules = new GbnfRuleSet();
  const endings: string[] = [];
  const next = `${T.end} ${T.start} "assistant"`;
  rules.set("root", "h-analysis | h-after");
  rules.set("h-analysis", `${T.channel} "analysis" ${T.message} h-free ${next} h-after`);
  // A preamble announces a tool call: it comes only before one. (Chat shows it as content, which
  // must be nothing but the JSON when a response format is set.)
  rules.set("h-after", tools.length > 0 ? "h-preamble | h-end" : "h-end");
  if (tools.length > 0) {
    rules.set("h-preamble", `${T.channel} "commentary" ${T.message} h-free ${next} h-calls`);
  }
  // Free text: any characters, but "<" never followed by "|": every control token spells as
  // "<|…|>", so none can slip in as text (a real "<|" in text is all this forbids).
  rules.set("h-free", `( [^<] | "<"+ [^<|] )* "<"*`);

  if (!mustCall || tools.length === 0) {
    const body =
      format.type === "json_schema"
        ? rules.schema(format.schema, `final-${format.name}`)
        : format.type === "json_object"
          ? rules.schema({ type: "object" }, "final-object")
          : "h-free";
    rules.set("h-final", `${T.channel} "final" ${T.message} ${body}`);
    endings.push("h-final");
  }
  if (tools.length > 0) {
    rules.set("h-call-channel", `"commentary" | "analysis"`);
    // ` <|constrain|>json`, `<|constrain|>json`, ` json` (the HF template's form) or just a space;
    // a bare "json" would run into the function's name.
    rules.set("h-constrain", `( " "? ${T.constrain} "json" | " json" | " " )?`);
    tools.forEach((tool, i) => {
      const args = argumentsRule(rules, tool);
      const recipient = gbnfLiteral(` to=${tool.namespace ?? "functions"}.${tool.name}`);
      rules.set(
        `h-call-${i}`,
        `${T.channel} h-call-channel ${recipient} h-constrain ${T.message} ${args}` +
          ` | ${recipient} ${T.channel} h-call-channel h-constrain ${T.message} ${args}`,
      );
      endings.push(`h-call-${i}`);
    });
    rules.set("h-calls", endings.filter((e) => e !== "h-final").join(" | "));
  }
  rules.set("h-end", endings.join(" | "));

  const bannedStopTokens: number[] = [];
  if (!endings.includes("h-final")) bannedStopTokens.push(SPECIAL_TOKENS.return);
  if (tools.length === 0) bannedStopTokens.push(SPECIAL_TOKENS.call);
  return {
    grammar: { gbnf: rules.text() },
    bannedStopTokens,
    required: format.type !== "text" || (mustCall && tools.length > 0),
  };
}
