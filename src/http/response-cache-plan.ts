/**
 * How one generation request meets the response cache (serving/response-cache.ts), from what HTTP
 * knows of it: who sent it and its `Cache-Control` header. The request directives (RFC 9111
 * §5.2.1) are read as a cache in front of an origin reads them:
 *
 * - `no-cache`: answer afresh (the cache is not read); the fresh answer may be stored;
 * - `no-store`: the cache is neither read nor written for this request.
 *
 * Every generation response says `X-Cache: hit` or `miss` while the cache is on (a sampled request
 * is always a miss); with the cache off there is no such header.
 */
import type { Principal } from "./auth.ts";
import { responseCacheKey, type ResponseCache } from "../serving/response-cache.ts";

export const X_CACHE_HEADER = "x-cache";

export interface ResponseCachePlan {
  /** Where the answer is looked up and stored; undefined: it is neither (sampled, `no-store`). */
  key: string | undefined;
  /** Whether to look it up first (not under `no-cache`). */
  read: boolean;
}

/**
 * The plan for one request, undefined when the cache is off. `parts`: what decides its answer
 * (undefined when sampled).
 */
export function planResponseCache(
  cache: ResponseCache,
  parts: unknown,
  principal: Principal | undefined,
  cacheControl: string | string[] | undefined,
): ResponseCachePlan | undefined {
  if (!cache.enabled) return undefined;
  const directives = cacheDirectives(cacheControl);
  if (parts === undefined || directives.has("no-store")) return { key: undefined, read: false };
  return { key: responseCacheKey(identityOf(principal), parts), read: !directives.has("no-cache") };
}

/** Who asked, as the key sees it: the index of the API key, never the key itself. */
function identityOf(principal: Principal | undefined): string {
  if (principal === undefined || principal.kind === "anonymous") return "anonymous";
  return principal.kind === "key" ? `key:${principal.index}` : principal.kind;
}

/** The directive names of a Cache-Control header (lower case; arguments dropped). */
function cacheDirectives(header: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const line of [header ?? []].flat()) {
    for (const part of line.split(",")) {
      const name = part.split("=")[0]?.trim().toLowerCase();
      if (name !== undefined && name !== "") names.add(name);
    }
  }
  return names;
}
