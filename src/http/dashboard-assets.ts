/**
 * The dashboard's static files: its page and scripts (src/dashboard/) and uPlot, the chart
 * library, read from node_modules/uplot/dist where `npm ci` put it (never a CDN: the page works
 * offline and its Content-Security-Policy allows scripts from this server only).
 *
 * These routes answer without an API key (auth.ts): they hold no data, only the code that asks
 * `/dashboard/data` for it with the key the user types. A stranger learns that the server has a
 * dashboard, which the open source says anyway.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface DashboardAsset {
  /** Absolute path of the file; resolved on first use, so a missing uplot cannot stop the server. */
  path: () => string;
  contentType: string;
}

const require = createRequire(import.meta.url);
const page = (name: string) => () => fileURLToPath(new URL(`../dashboard/${name}`, import.meta.url));
const uplot = (name: string) => () => require.resolve(`uplot/dist/${name}`);

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Route → file. The only files served: no path from a request ever reaches the file system. */
export const DASHBOARD_ASSETS: Readonly<Record<string, DashboardAsset>> = Object.freeze({
  "/dashboard": { path: page("index.html"), contentType: "text/html; charset=utf-8" },
  "/dashboard/app.js": { path: page("app.js"), contentType: JS },
  "/dashboard/charts.js": { path: page("charts.js"), contentType: JS },
  "/dashboard/format.js": { path: page("format.js"), contentType: JS },
  "/dashboard/app.css": { path: page("app.css"), contentType: CSS },
  "/dashboard/favicon.svg": { path: page("favicon.svg"), contentType: "image/svg+xml" },
  // The minified build that sets a global `uPlot` (the ES module build is three times larger).
  "/dashboard/uplot.js": { path: uplot("uPlot.iife.min.js"), contentType: JS },
  "/dashboard/uplot.css": { path: uplot("uPlot.min.css"), contentType: CSS },
});

export const DASHBOARD_ASSET_ROUTES: readonly string[] = Object.keys(DASHBOARD_ASSETS);

/**
 * For the page: scripts, styles, images and fetches from this server only, nothing inline, no
 * frames, no forms posted anywhere (the key form is handled by script; with `form-action 'none'`
 * a broken script cannot send the key off in a URL).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const cache = new Map<string, Promise<Buffer>>();

/**
 * The file's bytes, read once (they change only with a new install, and a restart comes with
 * that). A failed read is not cached, so a fixed install is served without a restart.
 */
export function readAsset(asset: DashboardAsset): Promise<Buffer> {
  const path = asset.path();
  let bytes = cache.get(path);
  if (bytes === undefined) {
    bytes = readFile(path);
    cache.set(path, bytes);
    bytes.catch(() => cache.delete(path));
  }
  return bytes;
}
