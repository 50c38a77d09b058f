/**
 * One upstream as --upstream names it: a base URL, and its own settings in the URL's fragment
 * (the fragment is never sent to the server), e.g.
 *
 *   http://10.0.0.5:8000#weight=2&parallel=32&timeout=60000&dialect=sglang&key-file=/run/keys/a
 *
 * A key is read from a file rather than written in the flag: a command line is visible to every
 * user of the machine (ps). Settings not given fall back to the --upstream-* flags.
 */
import { DIALECT_NAMES, type DialectName } from "./dialect.ts";

export interface UpstreamSpec {
  /** The base URL without its fragment. */
  url: string;
  /** Share of the load against the others (outstanding tokens are divided by it); default 1. */
  weight?: number;
  parallel?: number;
  timeoutMs?: number;
  dialect?: DialectName;
  keyFile?: string;
}

const SETTINGS = ["weight", "parallel", "timeout", "dialect", "key-file"] as const;

/** Parses one --upstream entry; throws an Error naming the setting that is wrong. */
export function parseUpstreamSpec(raw: string): UpstreamSpec {
  const url = new URL(raw);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`upstream ${raw}: only http and https URLs are served`);
  }
  const fragment = url.hash.slice(1);
  url.hash = "";
  const spec: UpstreamSpec = { url: url.toString().replace(/\/$/, "") };
  if (fragment === "") return spec;
  for (const [name, value] of new URLSearchParams(fragment)) {
    switch (name as (typeof SETTINGS)[number]) {
      case "weight":
        spec.weight = positive(raw, name, value, false);
        break;
      case "parallel":
        spec.parallel = positive(raw, name, value, true);
        break;
      case "timeout":
        spec.timeoutMs = positive(raw, name, value, true);
        break;
      case "dialect":
        if (!(DIALECT_NAMES as readonly string[]).includes(value)) {
          throw new Error(`upstream ${spec.url}: dialect must be one of ${DIALECT_NAMES.join(", ")}`);
        }
        spec.dialect = value as DialectName;
        break;
      case "key-file":
        if (value === "") throw new Error(`upstream ${spec.url}: key-file needs a path`);
        spec.keyFile = value;
        break;
      default:
        throw new Error(`upstream ${spec.url}: unknown setting "${name}" (known: ${SETTINGS.join(", ")})`);
    }
  }
  return spec;
}

/** A problem with an --upstream entry, for the config's validation; undefined when it parses. */
export function upstreamSpecProblem(raw: string): string | undefined {
  try {
    parseUpstreamSpec(raw);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function positive(raw: string, name: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(
      `upstream ${raw.split("#")[0]}: ${name} must be a positive ${integer ? "integer" : "number"}`,
    );
  }
  return n;
}
