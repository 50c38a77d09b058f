/**
 * API keys. The check runs on the route fastify MATCHED (`routeOptions.url`), never on the raw
 * request line: `/%761/models`, `http://x/v1/models` (absolute form) and `/v1/models` all match the
 * same route, and a check on the raw URL let the first two through. Anything that matched no route
 * (double or trailing slashes, unknown paths) needs a key too, so a 404 never tells a stranger what
 * exists.
 *
 * With keys set, only liveness and readiness answer without one (a load balancer's probes carry no
 * secret), and the dashboard's page, scripts and styles, which hold no data (dashboard-assets.ts;
 * its data, `/dashboard/data`, needs a key like `/stats`); `/metrics` opens to its own key
 * (`--metrics-key`) or to anyone with `--public-metrics`.
 * Keys are compared in constant time over their SHA-256 digests (equal lengths, no early exit, every
 * key tried), and the scheme is case-insensitive (RFC 9110 §11.1: "bearer" is "Bearer").
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { ServerConfig } from "../config/schema.ts";
import { DASHBOARD_ASSET_ROUTES } from "./dashboard-assets.ts";

/** Routes that answer without a key whatever the config. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  "/health/live",
  "/health/ready",
  ...DASHBOARD_ASSET_ROUTES,
]);

export const METRICS_ROUTE = "/metrics";

/** Who made a request: the index of the key it carried (so a cancel can be held to the same key). */
export type Principal = { kind: "anonymous" } | { kind: "key"; index: number } | { kind: "metrics" };

export const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

export type AuthResult =
  { ok: true; principal: Principal } | { ok: false; reason: "missing" | "malformed" | "wrong" };

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when it is not one. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export class ApiKeyAuth {
  readonly #keys: readonly Buffer[];
  readonly #metricsKey: Buffer | undefined;
  readonly #publicMetrics: boolean;

  constructor(config: Pick<ServerConfig, "apiKey" | "metricsKey" | "publicMetrics">) {
    this.#keys = config.apiKey.map(digest);
    this.#metricsKey = config.metricsKey === undefined ? undefined : digest(config.metricsKey);
    this.#publicMetrics = config.publicMetrics;
  }

  /** True when a key is configured at all. */
  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** Checks one request; `route` is the matched route pattern, undefined when none matched. */
  check(route: string | undefined, authorization: string | undefined): AuthResult {
    const anonymous: AuthResult = { ok: true, principal: ANONYMOUS };
    if (!this.enabled) return anonymous;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return anonymous;
    const isMetrics = route === METRICS_ROUTE;
    if (isMetrics && this.#publicMetrics) return anonymous;
    if (authorization === undefined) return { ok: false, reason: "missing" };
    const token = bearerToken(authorization);
    if (token === undefined) return { ok: false, reason: "malformed" };
    const given = digest(token);
    let found = -1;
    // Every key is compared, matched or not: the time taken says nothing about which key is close.
    this.#keys.forEach((key, index) => {
      if (timingSafeEqual(key, given) && found < 0) found = index;
    });
    if (found >= 0) return { ok: true, principal: { kind: "key", index: found } };
    if (isMetrics && this.#metricsKey !== undefined && timingSafeEqual(this.#metricsKey, given)) {
      return { ok: true, principal: { kind: "metrics" } };
    }
    return { ok: false, reason: "wrong" };
  }
}
