/**
 * Loads the server config once: flag > environment (GPTOSS_*) > config file (JSON) > defaults.
 * Validated by the one schema, then frozen. This is the only module that reads process.env.
 */
import { readFileSync } from "node:fs";
import { ZodError } from "zod";
import { defaultConfig } from "./defaults.ts";
import { configSchema, type ConfigKey, type ServerConfig } from "./schema.ts";

/** Config keys settable from the environment, with their variable names (GPTOSS_ + SNAKE_CASE). */
export function envName(key: ConfigKey): string {
  return "GPTOSS_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
}

const NUMERIC_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  "port",
  "parallel",
  "maxBatchSize",
  "stepTokens",
  "contextSize",
  "maxQueue",
  // "context" and "profile" stay strings: coerce() keeps a value that is not a number.
  "defaultMaxTokens",
  "maxTokensCap",
  "sseKeepaliveMs",
  "bodyLimitBytes",
  "shutdownTimeoutMs",
  "threads",
  "replicas",
  "replicasPerGpu",
  "sloErrorRate",
  "sloP95E2eMs",
  "sloP95TtftMs",
  "sloP95QueueMs",
  "alertWindowSeconds",
  "alertIntervalMs",
  "alertMinRequests",
  "responsesStoreSize",
  "responsesStoreTtlMs",
  "responsesStoreBytes",
  "responseCacheBytes",
  "responseCacheTtlMs",
  "bodyTimeoutMs",
  "maxConnections",
  "fakeTokenDelayMs",
  "upstreamTimeoutMs",
  "upstreamParallel",
]);

export class ConfigError extends Error {
  override name = "ConfigError";
}

const BOOLEAN_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  "allowDownload",
  "publicMetrics",
  "strictModelNames",
  "strictTools",
  "responseCache",
]);

/** Keys that hold a list: a string is split on commas (GPTOSS_API_KEY=key1,key2, --model 20b,120b). */
const LIST_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  "apiKey",
  "gpus",
  "model",
  "upstream",
  "warmPrompt",
]);

function coerce(key: ConfigKey, value: unknown): unknown {
  if (LIST_KEYS.has(key) && (typeof value === "string" || Array.isArray(value))) {
    // Commander hands an env value to the flag's collector as one item: split items too.
    const items: unknown[] = Array.isArray(value) ? (value as unknown[]) : [value];
    return items.flatMap((v): unknown[] =>
      typeof v === "string"
        ? v
            .split(",")
            .map((part) => part.trim())
            .filter((part) => part !== "")
        : // A config file's GPU list is naturally numbers ("gpus": [0, 1]).
          typeof v === "number"
          ? [String(v)]
          : [v],
    );
  }
  if (typeof value === "string" && BOOLEAN_KEYS.has(key)) {
    if (["1", "true", "yes", "on"].includes(value.toLowerCase())) return true;
    if (["0", "false", "no", "off"].includes(value.toLowerCase())) return false;
  }
  if (typeof value === "string" && NUMERIC_KEYS.has(key)) {
    const n = Number(value);
    return Number.isFinite(n) && value.trim() !== "" ? n : value;
  }
  return value;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${path} must hold a JSON object`);
    }
    return parsed as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** One key a line; blank lines and `#` comments are skipped. */
function readKeyFile(path: string, what = "API key file"): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  const keys = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (keys.length === 0) throw new ConfigError(`${what} ${path} holds no key`);
  return keys;
}

export interface LoadConfigInput {
  /** Values given as command-line flags (undefined = not given). */
  flags: Partial<Record<ConfigKey, unknown>>;
  /** Path of a JSON config file (--config / GPTOSS_CONFIG). */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(input: LoadConfigInput): ServerConfig {
  const env = input.env ?? process.env;
  const merged: Record<string, unknown> = { ...defaultConfig() };
  const file = input.configFile ?? env.GPTOSS_CONFIG;
  if (file !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(file)))
      merged[key] = coerce(key as ConfigKey, value);
  }
  for (const key of Object.keys(configSchema.shape) as ConfigKey[]) {
    const fromEnv = env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== "") merged[key] = coerce(key, fromEnv);
  }
  for (const [key, value] of Object.entries(input.flags)) {
    if (value !== undefined) merged[key] = coerce(key as ConfigKey, value);
  }
  // When the models folder was not chosen, it follows the cache folder.
  const modelsDirChosen =
    input.flags.modelsDir !== undefined ||
    env[envName("modelsDir")] !== undefined ||
    (file !== undefined && "modelsDir" in readConfigFile(file));
  if (!modelsDirChosen && merged.cacheDir !== defaultConfig().cacheDir) {
    merged.modelsDir = `${String(merged.cacheDir)}/models`;
  }
  if (typeof merged.apiKeyFile === "string") {
    merged.apiKey = [
      ...(Array.isArray(merged.apiKey) ? (merged.apiKey as unknown[]) : []),
      ...readKeyFile(merged.apiKeyFile),
    ];
  }
  if (typeof merged.alertWebhookKeyFile === "string") {
    // The first key of the file: a webhook takes one.
    merged.alertWebhookKey = readKeyFile(merged.alertWebhookKeyFile, "alert webhook key file")[0];
  }
  try {
    return Object.freeze(configSchema.parse(merged));
  } catch (error) {
    if (error instanceof ZodError) {
      const detail = error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`).join("; ");
      throw new ConfigError(`invalid configuration: ${detail}`);
    }
    throw error;
  }
}
