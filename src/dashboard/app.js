// @ts-check
/**
 * The dashboard: polls /dashboard/data every second (after the last sample it has) and draws the
 * figures. With API keys set, it asks for a key once, keeps it in this tab's sessionStorage and
 * sends it as `Authorization: Bearer`; a 401 asks again. Every text from the server is set with
 * textContent, never as HTML: error messages may quote a client's input.
 */
import { Charts } from "./charts.js";
import * as fmt from "./format.js";

/** @typedef {import("../metrics/dashboard-types.ts").DashboardData} DashboardData */
/** @typedef {import("../metrics/dashboard-types.ts").HistorySample} Sample */

const KEY_STORAGE = "gpt-oss-server.dashboard.key";
/** As long as the server keeps: older samples are dropped here too. */
const KEEP_MS = 15 * 60 * 1000;

/** @param {string} id @returns {HTMLElement} */
function $(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

/** @param {string} id @param {string} text */
function setText(id, text) {
  $(id).textContent = text;
}

/** @type {Sample[]} */
let samples = [];
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
let polling = false;
const charts = new Charts($("charts"));
const breakdown = /** @type {HTMLSelectElement} */ ($("breakdown"));
const keyForm = /** @type {HTMLFormElement} */ ($("key-form"));
const keyInput = /** @type {HTMLInputElement} */ ($("key-input"));

function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

/** @param {string} message */
function askForKey(message) {
  clearTimeout(timer);
  keyForm.hidden = false;
  setText("key-error", message);
  keyInput.focus();
}

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (key === "") return;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyInput.value = "";
  keyForm.hidden = true;
  void poll();
});
$("change-key").addEventListener("click", () => askForKey(""));
breakdown.addEventListener("change", () => {
  if (samples.length > 0) charts.update(samples, /** @type {any} */ (breakdown.value));
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && keyForm.hidden && !polling) void poll();
});

/** @param {number} delayMs */
function schedule(delayMs) {
  clearTimeout(timer);
  // A hidden tab stops polling; it picks up where it left off when shown again (visibilitychange).
  if (!document.hidden) timer = setTimeout(() => void poll(), delayMs);
}

async function poll() {
  if (polling) return;
  polling = true;
  try {
    await pollOnce();
  } finally {
    polling = false;
  }
}

async function pollOnce() {
  const key = storedKey();
  const since = samples.at(-1)?.t ?? 0;
  /** @type {Response} */
  let res;
  try {
    res = await fetch(`/dashboard/data?since=${since}`, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
      cache: "no-store",
    });
  } catch {
    offline("the server does not answer");
    schedule(2000);
    return;
  }
  if (res.status === 401) {
    $("change-key").hidden = true;
    askForKey(key === null ? "" : "The server refused that key.");
    return;
  }
  if (!res.ok) {
    offline(`the server answered ${res.status}`);
    schedule(2000);
    return;
  }
  $("change-key").hidden = key === null;
  const data = /** @type {DashboardData} */ (await res.json());
  append(data.samples);
  render(data);
  schedule(data.interval_ms);
}

/** @param {string} why */
function offline(why) {
  const pill = $("health");
  pill.dataset["status"] = "offline";
  pill.textContent = "offline";
  setText("updated", why);
}

/** @param {Sample[]} fresh */
function append(fresh) {
  const last = samples.at(-1)?.t ?? 0;
  // A restarted server's clock may be behind ours: keep what is newer than the last sample.
  samples.push(...fresh.filter((s) => s.t > last));
  const cutoff = (samples.at(-1)?.t ?? 0) - KEEP_MS;
  if ((samples[0]?.t ?? cutoff) < cutoff) samples = samples.filter((s) => s.t >= cutoff);
}

/** @param {DashboardData} data */
function render(data) {
  const pill = $("health");
  pill.dataset["status"] = data.health.status;
  pill.textContent = `${data.health.status} · ${data.health.score.toFixed(1)}`;
  setText("models", data.models.join(", "));
  setText("updated", `updated ${fmt.clock(data.now)}`);
  renderTiles(data, samples.at(-1));
  renderAlerts(data.health.alerts);
  renderErrors(data.errors);
  if (samples.length > 0) charts.update(samples, /** @type {any} */ (breakdown.value));
  // For tests and scripts that drive the page: how much it has drawn, up to when.
  document.body.dataset["samples"] = String(samples.length);
  document.body.dataset["last"] = String(samples.at(-1)?.t ?? 0);
}

/** @param {DashboardData} data @param {Sample | undefined} last */
function renderTiles(data, last) {
  setText("tile-rps", fmt.rate(last?.requests_per_s));
  setText("tile-tps", fmt.rate(last?.tokens_per_s));
  setText("tile-ttft", fmt.ms(last?.ttft_p95_ms));
  setText("slo-ttft", `SLO ${fmt.ms(data.slo.p95_ttft_ms)}`);
  setText("tile-e2e", fmt.ms(last?.e2e_p95_ms));
  setText("slo-e2e", `SLO ${fmt.ms(data.slo.p95_e2e_ms)}`);
  setText("tile-queue", fmt.count(last?.queue_length));
  setText("tile-streams", fmt.count(last?.active_streams));
  setText("tile-requests", fmt.count(data.totals.requests));
  setText(
    "tile-requests-note",
    `${fmt.count(data.totals.failed)} failed · ${fmt.count(data.totals.rejected)} rejected · ` +
      `${fmt.count(data.totals.completion_tokens)} tokens`,
  );
  const cache = data.cache;
  setText("tile-cache", cache === null || !cache.enabled ? "off" : fmt.percent(cache.hit_rate));
  setText(
    "tile-cache-note",
    cache === null || !cache.enabled
      ? ""
      : [`${fmt.count(cache.entries)} entries`, fmt.bytes(cache.bytes)].filter((x) => x !== "").join(" · "),
  );
  const breaches = data.health.breaches;
  setText("tile-slo", breaches.length === 0 ? "met" : `${breaches.length} breached`);
  setText(
    "tile-slo-note",
    breaches.length === 0 ? `error rate ≤ ${fmt.percent(data.slo.error_rate)}` : breaches.join(", "),
  );
}

/**
 * `/health.alerts = {active: [{name, since, value, threshold}], recent: [...]}` when the server
 * has alerts; shown as they come, each field optional.
 * @param {unknown} alerts
 */
function renderAlerts(alerts) {
  const section = $("alerts");
  const a = /** @type {{ active?: unknown, recent?: unknown } | undefined} */ (alerts);
  section.hidden = a === undefined || a === null;
  if (section.hidden || a === undefined) return;
  fillAlerts($("alerts-active"), a.active, "active");
  fillAlerts($("alerts-recent"), a.recent, "recent");
}

/** @param {HTMLElement} list @param {unknown} entries @param {string} state */
function fillAlerts(list, entries, state) {
  const items = Array.isArray(entries) ? entries : [];
  list.replaceChildren(
    ...items.map((entry) => {
      const e = /** @type {Record<string, unknown>} */ (entry ?? {});
      const li = document.createElement("li");
      li.dataset["state"] = state;
      const parts = [String(e["name"] ?? "alert")];
      if (e["value"] !== undefined) parts.push(`value ${String(e["value"])}`);
      if (e["threshold"] !== undefined) parts.push(`threshold ${String(e["threshold"])}`);
      if (e["since"] !== undefined) parts.push(`since ${String(e["since"])}`);
      li.textContent = parts.join(" · ");
      return li;
    }),
  );
  if (items.length === 0) {
    const li = document.createElement("li");
    li.textContent = state === "active" ? "No alert firing." : "None.";
    list.append(li);
  }
}

/** @param {DashboardData["errors"]} errors */
function renderErrors(errors) {
  $("no-errors").hidden = errors.length > 0;
  const rows = errors.map((e) => {
    const tr = document.createElement("tr");
    const cells = [
      fmt.clock(e.at_ms),
      e.outcome,
      String(e.status ?? ""),
      e.code,
      e.model,
      e.route ?? "",
      e.message,
    ];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === cells.length - 1) td.className = "message";
      tr.append(td);
    }
    return tr;
  });
  const body = $("errors").querySelector("tbody");
  body?.replaceChildren(...rows);
}

void poll();
