// @ts-check
/** Number formatting for tiles, axes and legends: short, and "–" where there is no value. */

/** @param {number | null | undefined} v */
export function rate(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** @param {number | null | undefined} v milliseconds */
export function ms(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${v.toFixed(0)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

/** @param {number | null | undefined} v */
export function count(v) {
  if (v === null || v === undefined) return "–";
  return Math.round(v).toLocaleString("en-US");
}

/** @param {number | null | undefined} v a share, 0..1 */
export function percent(v) {
  if (v === null || v === undefined) return "–";
  return `${(v * 100).toFixed(1)} %`;
}

/** @param {number} epochMs */
export function clock(epochMs) {
  return new Date(epochMs).toLocaleTimeString("en-GB", { hour12: false });
}

/** @param {number | null | undefined} bytes */
export function bytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
