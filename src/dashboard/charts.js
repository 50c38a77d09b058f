// @ts-check
/**
 * The dashboard's charts: which lines each one draws for the chosen breakdown (total, per model,
 * per profile), and their uPlot instances, rebuilt only when the set of lines changes (a model or
 * profile seen for the first time) and otherwise given new data in place.
 */
import * as fmt from "./format.js";

/** @typedef {import("../metrics/dashboard-types.ts").HistorySample} Sample */
/** @typedef {import("../metrics/dashboard-types.ts").SeriesFigures} Figures */
/** @typedef {"total" | "model" | "profile"} Breakdown */
/** @typedef {{ models: string[], profiles: string[], replicas: string[] }} Keys */
/**
 * @typedef {{ label: string, color: string, dash?: number[], get: (s: Sample) => number | null | undefined }} Line
 * @typedef {{ id: string, title: string, format: (v: number | null | undefined) => string,
 *   lines: (b: Breakdown, keys: Keys) => Line[] }} ChartSpec
 */

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#8c564b"];
const BLUE = "#1f77b4";
const RED = "#d62728";
const ORANGE = "#ff7f0e";
const GREEN = "#2ca02c";
const PURPLE = "#9467bd";
const DASH = [6, 4];
const HEIGHT = 190;
/** Time axis tick steps, in seconds. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900];

/** @param {number} i */
const color = (i) => PALETTE[i % PALETTE.length] ?? BLUE;

/**
 * One line per model or profile for a figure; `suffix` tells two figures of one key apart.
 * @param {Breakdown} b @param {Keys} keys @param {(f: Figures) => number | null} pick
 * @param {string} [suffix] @param {number[]} [dash]
 * @returns {Line[]}
 */
function perKey(b, keys, pick, suffix = "", dash) {
  const names = b === "model" ? keys.models : keys.profiles;
  return names.map((name, i) => ({
    label: `${name}${suffix}`,
    color: color(i),
    ...(dash !== undefined ? { dash } : {}),
    get: (s) => {
      const figures = b === "model" ? s.models[name] : s.profiles[name];
      return figures === undefined ? null : pick(figures);
    },
  }));
}

/**
 * p50 dashed and p95 solid, in total or per key.
 * @param {"ttft" | "e2e"} which @returns {(b: Breakdown, keys: Keys) => Line[]}
 */
function latencyLines(which) {
  /** @param {Figures} f */
  const p50 = (f) => (which === "ttft" ? f.ttft_p50_ms : f.e2e_p50_ms);
  /** @param {Figures} f */
  const p95 = (f) => (which === "ttft" ? f.ttft_p95_ms : f.e2e_p95_ms);
  return (b, keys) =>
    b === "total"
      ? [
          { label: "p50", color: BLUE, dash: DASH, get: p50 },
          { label: "p95", color: PURPLE, get: p95 },
        ]
      : [...perKey(b, keys, p95, " p95"), ...perKey(b, keys, p50, " p50", DASH)];
}

/** @type {ChartSpec[]} */
const SPECS = [
  {
    id: "requests",
    title: "Requests/s",
    format: fmt.rate,
    lines: (b, keys) =>
      b === "total"
        ? [
            { label: "finished", color: BLUE, get: (s) => s.requests_per_s },
            { label: "failed", color: RED, get: (s) => s.failed_per_s },
            { label: "rejected", color: ORANGE, get: (s) => s.rejected_per_s },
          ]
        : perKey(b, keys, (f) => f.requests_per_s),
  },
  {
    id: "tokens",
    title: "Completion tokens/s",
    format: fmt.rate,
    lines: (b, keys) =>
      b === "total"
        ? [{ label: "tokens/s", color: GREEN, get: (s) => s.tokens_per_s }]
        : perKey(b, keys, (f) => f.tokens_per_s),
  },
  { id: "ttft", title: "Time to first token (last 10 s)", format: fmt.ms, lines: latencyLines("ttft") },
  { id: "e2e", title: "End-to-end latency (last 10 s)", format: fmt.ms, lines: latencyLines("e2e") },
  {
    id: "load",
    title: "Queue and running requests",
    format: fmt.rate,
    lines: (b, keys) =>
      b === "model"
        ? keys.models.flatMap((name, i) => [
            { label: `${name} queued`, color: color(i), get: (s) => s.models[name]?.queued ?? null },
            {
              label: `${name} running`,
              color: color(i),
              dash: DASH,
              get: (s) => s.models[name]?.active ?? null,
            },
          ])
        : [
            { label: "queued", color: ORANGE, get: (s) => s.queue_length },
            { label: "running", color: BLUE, get: (s) => s.active_requests },
            { label: "streams", color: GREEN, get: (s) => s.active_streams },
          ],
  },
  {
    id: "replicas",
    title: "Running per replica or upstream",
    format: fmt.rate,
    lines: (_b, keys) =>
      keys.replicas.map((name, i) => ({
        label: name,
        color: color(i),
        get: (s) => s.replicas[name]?.running ?? null,
      })),
  },
];

/** @param {Sample[]} samples @returns {Keys} */
function keysOf(samples) {
  const models = new Set();
  const profiles = new Set();
  const replicas = new Set();
  for (const s of samples) {
    for (const k of Object.keys(s.models)) models.add(k);
    for (const k of Object.keys(s.profiles)) profiles.add(k);
    for (const k of Object.keys(s.replicas)) replicas.add(k);
  }
  // Sorted: a key keeps its colour from one chart to the next.
  return { models: [...models].sort(), profiles: [...profiles].sort(), replicas: [...replicas].sort() };
}

/**
 * @param {ChartSpec} spec @param {Line[]} lines @param {number} width
 * @returns {import("uplot").Options}
 */
function options(spec, lines, width) {
  return {
    width,
    height: HEIGHT,
    scales: {
      x: { time: true },
      // From zero: a rate or a latency read against its own minimum exaggerates every wiggle.
      y: { range: (_u, _min, max) => [0, max !== null && max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      // Whole seconds (samples are a second apart), as wall-clock time.
      { space: 70, incrs: TIME_STEPS, values: (_u, splits) => splits.map((v) => fmt.clock(v * 1000)) },
      { size: 70, values: (_u, splits) => splits.map((v) => spec.format(v)) },
    ],
    series: [
      {},
      ...lines.map((line) => ({
        label: line.label,
        stroke: line.color,
        width: 2,
        ...(line.dash !== undefined ? { dash: line.dash } : {}),
        points: { show: false },
        /** @type {(u: import("uplot"), v: number | null) => string} */
        value: (_u, v) => spec.format(v),
      })),
    ],
  };
}

export class Charts {
  /** @type {Map<string, { figure: HTMLElement, body: HTMLElement, plot?: import("uplot"), signature?: string }>} */
  #charts = new Map();

  /** @param {HTMLElement} container */
  constructor(container) {
    for (const spec of SPECS) {
      const figure = document.createElement("figure");
      figure.className = "chart";
      figure.id = `chart-${spec.id}`;
      figure.hidden = true;
      const caption = document.createElement("figcaption");
      caption.textContent = spec.title;
      const body = document.createElement("div");
      figure.append(caption, body);
      container.append(figure);
      this.#charts.set(spec.id, { figure, body });
    }
    new ResizeObserver(() => this.#resize()).observe(container);
  }

  /** @param {Sample[]} samples oldest first @param {Breakdown} breakdown */
  update(samples, breakdown) {
    const keys = keysOf(samples);
    const xs = samples.map((s) => s.t / 1000);
    for (const spec of SPECS) {
      const chart = this.#charts.get(spec.id);
      if (chart === undefined) continue;
      const lines = spec.lines(breakdown, keys);
      chart.figure.hidden = lines.length === 0;
      if (lines.length === 0) continue;
      /** @type {import("uplot").AlignedData} */
      const data = [xs, ...lines.map((line) => samples.map((s) => line.get(s) ?? null))];
      const signature = lines.map((l) => `${l.label}:${l.color}`).join("|");
      if (chart.plot !== undefined && chart.signature === signature) {
        chart.plot.setData(data);
        continue;
      }
      chart.plot?.destroy();
      chart.plot = new uPlot(options(spec, lines, this.#width(chart.body)), data, chart.body);
      chart.signature = signature;
    }
  }

  /** @param {HTMLElement} body */
  #width(body) {
    return Math.max(200, body.clientWidth);
  }

  #resize() {
    for (const chart of this.#charts.values()) {
      chart.plot?.setSize({ width: this.#width(chart.body), height: HEIGHT });
    }
  }
}
