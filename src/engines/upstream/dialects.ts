/**
 * The dialects by name (--upstream-dialect, or an upstream URL's `#dialect=`), and `auto`: which one
 * an upstream speaks, found by probing what only that server answers.
 */
import type { DialectName, UpstreamDialect } from "./dialect.ts";
import { llamaServerDialect } from "./llama-server-dialect.ts";
import { openAiChatDialect } from "./openai-chat-dialect.ts";
import { sglangDialect } from "./sglang-dialect.ts";
import { vllmDialect } from "./vllm-dialect.ts";

const DIALECTS: Partial<Record<DialectName, UpstreamDialect>> = {
  vllm: vllmDialect,
  sglang: sglangDialect,
  "llama-server": llamaServerDialect,
  "openai-chat": openAiChatDialect,
};

export function dialectNamed(name: DialectName): UpstreamDialect {
  const dialect = DIALECTS[name];
  if (dialect === undefined) throw new Error(`the ${name} dialect is not built yet`);
  return dialect;
}
