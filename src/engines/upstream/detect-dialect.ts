/**
 * `--upstream-dialect auto`: which dialect an upstream speaks, from what only that server answers.
 *
 * - llama-server: `GET /props` with `default_generation_settings` (llama.cpp tools/server).
 * - SGLang: `GET /model_info` with `model_path`, or `/get_model_info`, its name before SGLang
 *   deprecated it (srt/entrypoints/http_server.py serves both today and warns on the old one).
 * - `GET /v1/models`: entries with `random_weights` are this server's own (it speaks vLLM's
 *   dialect); otherwise `owned_by` says who answers: "vllm" (vllm/entrypoints/openai protocol's
 *   ModelCard default), "sglang", "llamacpp"; any other server answering it is spoken to at chat
 *   level ("openai-chat").
 *
 * The probes run at once; an upstream that answers none of them is an error, not a guess.
 */
import type { DialectName } from "./dialect.ts";

interface ModelEntry {
  owned_by?: unknown;
  random_weights?: unknown;
}

/** Which dialect the upstream at `url` speaks. */
export async function detectDialect(
  url: string,
  apiKey: string | undefined,
  timeoutMs: number,
): Promise<DialectName> {
  const get = (path: string): Promise<Answer> => getJson(url, path, apiKey, timeoutMs);
  const [props, modelInfo, models] = await Promise.all([
    get("/props"),
    get("/model_info").then((a) => (a.ok ? a : get("/get_model_info"))),
    get("/v1/models"),
  ]);
  if (props.ok && isObject(props.body) && isObject(props.body["default_generation_settings"])) {
    return "llama-server";
  }
  if (modelInfo.ok && isObject(modelInfo.body) && typeof modelInfo.body["model_path"] === "string") {
    return "sglang";
  }
  if (!models.ok) {
    throw new Error(`cannot tell which server ${url} is: GET /v1/models ${models.failure}`);
  }
  const data = isObject(models.body) && Array.isArray(models.body["data"]) ? models.body["data"] : [];
  const entries = data.filter(isObject) as ModelEntry[];
  if (entries.some((m) => "random_weights" in m)) return "vllm";
  const owners = new Set(entries.map((m) => m.owned_by));
  if (owners.has("vllm")) return "vllm";
  if (owners.has("sglang")) return "sglang";
  if (owners.has("llamacpp")) return "llama-server";
  return "openai-chat";
}

type Answer = { ok: true; body: unknown } | { ok: false; failure: string };

/** GET a JSON document; any failure (unreachable, non-2xx, not JSON) is an answer, not a throw. */
async function getJson(
  url: string,
  path: string,
  apiKey: string | undefined,
  timeoutMs: number,
): Promise<Answer> {
  try {
    const res = await fetch(new URL(path, url), {
      headers: apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, failure: `answered ${res.status}` };
    }
    return { ok: true, body: await res.json() };
  } catch (error) {
    const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
    const detail = cause instanceof Error ? ` (${cause.message})` : "";
    return {
      ok: false,
      failure: `failed: ${error instanceof Error ? error.message : String(error)}${detail}`,
    };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
