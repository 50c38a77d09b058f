/**
 * Generated token ids → reasoning / content / tool-call events, one token at a time (harmony.md,
 * "Parsing output"). The prompt ended with `<|start|>assistant`, so the model continues with a
 * header (`<|channel|>analysis<|message|>`), content, `<|end|>`, possibly more messages, and stops
 * on `<|return|>` or `<|call|>`.
 *
 * Never throws, whatever the tokens: a malformed header or a control token out of place yields a
 * `parse-error` event (the caller counts them) and degrades to best-effort text. Text outside any
 * message comes out as content, so a random-weight model's noise is still visible output.
 *
 * Channel → event: analysis → reasoning-delta; final → content-delta; commentary without a
 * recipient (a preamble, meant for the user) → content-delta with channel "commentary"; any
 * channel with a recipient (`to=functions.x`, or a bare `to=x`) → tool-call events. A missing or
 * unknown channel is treated as final.
 *
 * Per token: one byte-table lookup and a streaming UTF-8 decode of a few bytes; no history is
 * re-decoded.
 */
import { HeaderDraft, type HeaderPart } from "./parser-header.ts";
import { SPECIAL_TOKENS, isSpecialTokenId } from "./special-tokens.ts";
import type { TokenTextDecoder } from "./token-text-decoder.ts";
import { getHarmonyTokenizer } from "./tokenizer.ts";

export type HarmonyEvent =
  | { type: "reasoning-delta"; text: string }
  | { type: "content-delta"; text: string; channel: "final" | "commentary" }
  | { type: "tool-call-start"; index: number; name: string; recipient: string; channel: string }
  | { type: "tool-call-delta"; index: number; argumentsDelta: string }
  | { type: "tool-call-end"; index: number }
  | { type: "parse-error"; detail: string };

export interface ParsedToolCall {
  index: number;
  /** The function name: the recipient without its `functions.` namespace. */
  name: string;
  /** The recipient as written, e.g. `functions.get_weather`. */
  recipient: string;
  channel: string;
  arguments: string;
}

export interface HarmonyParseResult {
  /** Events released by finishing (text held for an incomplete character, an open call's end). */
  events: readonly HarmonyEvent[];
  reasoning: string;
  /** Final-channel text plus preambles, in order. */
  content: string;
  toolCalls: ParsedToolCall[];
  /** The stop token the stream ended on; "none" when it ended otherwise (length, cancel). */
  stoppedOn: "return" | "call" | "none";
  parseErrors: number;
}

type Sink =
  | { kind: "reasoning" }
  | { kind: "content"; channel: "final" | "commentary" }
  | { kind: "tool"; call: ParsedToolCall; parts: string[] };

const NO_EVENTS: readonly HarmonyEvent[] = Object.freeze([]);
const FINAL_SINK: Sink = { kind: "content", channel: "final" };

export class HarmonyStreamParser {
  readonly #decoder: TokenTextDecoder;
  /** Set while collecting a header. */
  #header: HeaderDraft | undefined = new HeaderDraft(true);
  /** Set while inside a message's content. Neither set: between messages. */
  #sink: Sink | undefined;
  #channel: string | undefined;
  #out: HarmonyEvent[] | undefined;
  readonly #reasoning: string[] = [];
  readonly #content: string[] = [];
  readonly #calls: { call: ParsedToolCall; parts: string[] }[] = [];
  #stoppedOn: "return" | "call" | "none" = "none";
  #parseErrors = 0;
  #result: HarmonyParseResult | undefined;

  constructor(decoder: TokenTextDecoder = getHarmonyTokenizer().createTextDecoder()) {
    this.#decoder = decoder;
  }

  /** The channel of the message whose content is streaming; undefined in a header or between messages. */
  get channel(): string | undefined {
    return this.#sink === undefined ? undefined : this.#channel;
  }

  push(token: number): readonly HarmonyEvent[] {
    if (this.#result !== undefined) return NO_EVENTS;
    this.#out = undefined;
    // Output after a stop token (ignore_eos benchmarks) means generation did not stop there.
    this.#stoppedOn = "none";
    if (isSpecialTokenId(token)) this.#special(token);
    else this.#text(this.#decoder.push(token));
    return this.#out ?? NO_EVENTS;
  }

  pushAll(tokens: readonly number[]): HarmonyEvent[] {
    const all: HarmonyEvent[] = [];
    for (const t of tokens) for (const e of this.push(t)) all.push(e);
    return all;
  }

  /** Ends the stream: releases held text, closes an open tool call, returns the summary. Idempotent. */
  finish(): HarmonyParseResult {
    if (this.#result !== undefined) return this.#result;
    this.#out = undefined;
    // A header cut short (max tokens) carries no text to show; only a finished message does.
    if (this.#sink !== undefined) this.#closeMessage();
    this.#result = {
      events: this.#out ?? NO_EVENTS,
      reasoning: this.#reasoning.join(""),
      content: this.#content.join(""),
      toolCalls: this.#calls.map(({ call, parts }) => ({ ...call, arguments: parts.join("") })),
      stoppedOn: this.#stoppedOn,
      parseErrors: this.#parseErrors,
    };
    return this.#result;
  }

  #emit(event: HarmonyEvent): void {
    (this.#out ??= []).push(event);
  }

  #error(detail: string): void {
    this.#parseErrors++;
    this.#emit({ type: "parse-error", detail });
  }

  #text(text: string): void {
    if (this.#header !== undefined) {
      const header = this.#header;
      header.tokens++;
      header.append(text);
      const reason = header.implausibility();
      if (reason !== undefined) this.#salvageHeader(header, reason);
      return;
    }
    if (this.#sink === undefined) {
      // Text between messages (no <|start|>): show it rather than drop it.
      this.#error("text outside a message");
      this.#open(FINAL_SINK, "final");
    }
    this.#deliver(text);
  }

  #deliver(text: string): void {
    if (text === "") return;
    const sink = this.#sink;
    if (sink === undefined) return;
    switch (sink.kind) {
      case "reasoning":
        this.#reasoning.push(text);
        this.#emit({ type: "reasoning-delta", text });
        break;
      case "content":
        this.#content.push(text);
        this.#emit({ type: "content-delta", text, channel: sink.channel });
        break;
      case "tool":
        sink.parts.push(text);
        this.#emit({ type: "tool-call-delta", index: sink.call.index, argumentsDelta: text });
        break;
    }
  }

  #special(token: number): void {
    switch (token) {
      case SPECIAL_TOKENS.start:
        if (this.#sink !== undefined) {
          this.#error("<|start|> inside a message (missing <|end|>)");
          this.#closeMessage();
        } else if (this.#header !== undefined) {
          this.#error("<|start|> inside a header");
          this.#decoder.flush();
        }
        this.#header = new HeaderDraft(false);
        return;
      case SPECIAL_TOKENS.channel:
        this.#headerMarker("channel", "<|channel|>");
        return;
      case SPECIAL_TOKENS.constrain:
        this.#headerMarker("constrain", "<|constrain|>");
        return;
      case SPECIAL_TOKENS.message:
        if (this.#header !== undefined) this.#openFromHeader(this.#header);
        else if (this.#sink !== undefined) this.#error("<|message|> inside a message");
        else {
          this.#error("<|message|> without a header");
          this.#open(FINAL_SINK, "final");
        }
        return;
      case SPECIAL_TOKENS.end:
      case SPECIAL_TOKENS.return:
      case SPECIAL_TOKENS.call:
        this.#endMessage(token);
        return;
      default:
        this.#error(`unexpected token ${token}`);
    }
  }

  /** `<|channel|>` / `<|constrain|>`: a header part, or (out of place) the start of a new header. */
  #headerMarker(part: HeaderPart, spelled: string): void {
    const header = this.#header;
    if (header !== undefined) {
      header.append(this.#decoder.flush());
      if (part === "channel") {
        if (header.sawChannel) this.#error(`second ${spelled} in a header`);
        header.channel = "";
        header.sawChannel = true;
      }
      header.part = part;
      return;
    }
    if (part === "constrain") {
      this.#error(`${spelled} outside a header`);
      return;
    }
    // A model that skips `<|end|><|start|>assistant` between its messages.
    this.#error(this.#sink !== undefined ? "<|channel|> inside a message" : "<|channel|> without <|start|>");
    if (this.#sink !== undefined) this.#closeMessage();
    this.#header = new HeaderDraft(true, "channel");
  }

  #openFromHeader(header: HeaderDraft): void {
    header.append(this.#decoder.flush());
    this.#header = undefined;
    const meaning = header.interpret();
    if (meaning.problems.length > 0) this.#error(meaning.problems.join("; "));
    const channel = meaning.channel ?? "final";
    if (meaning.recipient !== undefined) {
      const recipient = meaning.recipient;
      const name = recipient.startsWith("functions.") ? recipient.slice("functions.".length) : recipient;
      if (name !== "") {
        const call: ParsedToolCall = { index: this.#calls.length, name, recipient, channel, arguments: "" };
        const entry = { call, parts: [] as string[] };
        this.#calls.push(entry);
        this.#emit({ type: "tool-call-start", index: call.index, name, recipient, channel });
        this.#open({ kind: "tool", ...entry }, channel);
        return;
      }
      this.#error(`empty function name in recipient '${recipient}'`);
    }
    if (channel === "analysis") this.#open({ kind: "reasoning" }, channel);
    else if (channel === "commentary") this.#open({ kind: "content", channel: "commentary" }, channel);
    else this.#open(FINAL_SINK, "final");
  }

  /** Not a header after all: show its text under the best guess of a channel. */
  #salvageHeader(header: HeaderDraft, reason: string): void {
    this.#header = undefined;
    this.#error(`malformed header: ${reason}`);
    const { channel, text } = header.salvage();
    if (channel === "analysis") this.#open({ kind: "reasoning" }, channel);
    else if (channel === "commentary") this.#open({ kind: "content", channel: "commentary" }, channel);
    else this.#open(FINAL_SINK, "final");
    this.#deliver(text);
  }

  #open(sink: Sink, channel: string): void {
    this.#sink = sink;
    this.#channel = channel;
  }

  #endMessage(token: number): void {
    if (token === SPECIAL_TOKENS.return) this.#stoppedOn = "return";
    else if (token === SPECIAL_TOKENS.call) this.#stoppedOn = "call";
    const spelled =
      token === SPECIAL_TOKENS.end ? "<|end|>" : token === SPECIAL_TOKENS.call ? "<|call|>" : "<|return|>";
    if (this.#sink !== undefined) {
      if (token === SPECIAL_TOKENS.call && this.#sink.kind !== "tool")
        this.#error("<|call|> ends a message without a recipient");
      this.#closeMessage();
    } else if (this.#header !== undefined) {
      this.#header = undefined;
      this.#decoder.flush();
      this.#error(`${spelled} inside a header`);
    } else if (token === SPECIAL_TOKENS.end) {
      this.#error("<|end|> outside a message");
    }
  }

  #closeMessage(): void {
    this.#deliver(this.#decoder.flush());
    const sink = this.#sink;
    if (sink?.kind === "tool") this.#emit({ type: "tool-call-end", index: sink.call.index });
    this.#sink = undefined;
    this.#channel = undefined;
  }
}
