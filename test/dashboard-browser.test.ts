/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, against a real
 * server (the fake engine, in-process, listening on a port) with API keys set. The page asks for
 * the key, refuses a wrong one, then draws; after traffic from the official `openai` client the
 * screenshot must show the charts drawn (non-background pixels in several colours), the totals
 * must be above zero and the last error listed. Any script error or CSP violation fails it.
 *
 * Without chromium this test FAILS, saying so, unless GPTOSS_SKIP_BROWSER=1 is set (then it is
 * skipped, loudly): a browser test that passes where no browser runs would prove nothing.
 * `.ci/run` installs chromium.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFakeApp, type FakeApp } from "./helpers/fake-app.ts";

// The functions given to page.evaluate run in the page, where these exist; the project's types are
// Node's (no DOM), and adding the DOM library would change the types of every file.
declare const document: any;
declare const window: any;
declare const Image: any;

const KEY = "browser-key";
const SCREENSHOT = fileURLToPath(new URL("../.cache/dashboard-browser.png", import.meta.url));
const skipRequested = process.env["GPTOSS_SKIP_BROWSER"] === "1";

/** $CHROMIUM_PATH, Debian's /usr/bin/chromium, or a chromium or chrome on PATH. */
function findChromium(): string | undefined {
  const given = process.env["CHROMIUM_PATH"];
  if (given !== undefined && given !== "") return existsSync(given) ? given : undefined;
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (existsSync(path)) return path;
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    try {
      const found = execFileSync("which", [name], { encoding: "utf8" }).trim();
      if (found !== "") return found;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}

function shout(lines: string[]): void {
  const bar = "!".repeat(78);
  console.error(["", bar, ...lines.map((l) => `!!! ${l}`), bar, ""].join("\n"));
}

const executable = skipRequested ? undefined : findChromium();

if (skipRequested) {
  shout(["GPTOSS_SKIP_BROWSER=1: the dashboard's browser test is SKIPPED.", "The page is NOT tested."]);
} else if (executable === undefined) {
  shout([
    "chromium is not installed: the dashboard's browser test FAILS.",
    "Install it (Debian: apt-get install chromium; .ci/run does), point CHROMIUM_PATH at one,",
    "or set GPTOSS_SKIP_BROWSER=1 to skip this test knowingly.",
  ]);
}

describe.skipIf(skipRequested)("the dashboard in chromium", () => {
  if (executable === undefined) {
    it("needs chromium", () => {
      throw new Error(
        "chromium not found (looked at $CHROMIUM_PATH, /usr/bin/chromium, PATH): install it " +
          "(apt-get install chromium) or set GPTOSS_SKIP_BROWSER=1 to skip the browser test",
      );
    });
    return;
  }

  let fake: FakeApp;
  let url: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    fake = buildFakeApp({ config: { apiKey: [KEY] }, tokenDelayMs: 2 });
    await fake.app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(fake.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: executable, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1500 }, deviceScaleFactor: 1 });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (msg) => {
      // A 401 is the page asking for the key: expected. Anything else (a CSP refusal, a script
      // error) is a fault of the page.
      if (msg.type() === "error" && !/status of 401/.test(msg.text())) problems.push(msg.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await fake?.app.close();
  });

  it("asks for the key, draws the traffic and lists the errors", async () => {
    await page.goto(`${url}/dashboard`);
    const form = page.locator("#key-form");
    await form.waitFor({ state: "visible" });

    await page.fill("#key-input", "not-the-key");
    await page.click("#key-form button[type=submit]");
    await page.locator("#key-error", { hasText: "refused" }).waitFor();

    await page.fill("#key-input", KEY);
    await page.click("#key-form button[type=submit]");
    await form.waitFor({ state: "hidden" });
    await page.locator("#health", { hasText: "healthy" }).waitFor();

    // Traffic over about two seconds, so that several samples have it: plain and streamed,
    // two profiles, and one request for a model this server does not have.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
    const messages = [{ role: "user" as const, content: "Hello" }];
    for (let round = 0; round < 4; round += 1) {
      await Promise.all([
        client.chat.completions.create({ model: "gpt-oss-fake", messages, max_tokens: 16 }),
        client.chat.completions.create({
          model: "gpt-oss-fake",
          messages,
          max_tokens: 16,
          profile: "quality_first",
        } as OpenAI.ChatCompletionCreateParamsNonStreaming),
        (async () => {
          const stream = await client.chat.completions.create({
            model: "gpt-oss-fake",
            messages,
            stream: true,
          });
          for await (const chunk of stream) void chunk;
        })(),
      ]);
      await new Promise((r) => setTimeout(r, 500));
    }
    await expect(client.chat.completions.create({ model: "llama-3-8b", messages })).rejects.toThrow(/404/);

    // Wait until the page has drawn a sample taken after all of it.
    const after = Date.now();
    await page.waitForFunction((t) => Number(document.body.dataset["last"]) > t, after, { timeout: 10_000 });

    const number = async (id: string) => Number((await page.textContent(id))?.replace(/,/g, ""));
    expect(await number("#tile-requests")).toBeGreaterThanOrEqual(13);
    expect(await page.textContent("#tile-requests-note")).toMatch(/[1-9][\d,]* tokens/);
    expect(await page.textContent("#tile-cache")).toBe("off");
    expect(await page.textContent("#tile-slo")).toBe("met");
    await page.locator("#errors tbody tr", { hasText: "model_not_found" }).first().waitFor();

    const boxes = await chartBoxes(page);
    expect(boxes.map((b) => b.id).sort()).toEqual(["load", "requests", "tokens", "ttft", "e2e"].sort());

    mkdirSync(fileURLToPath(new URL("../.cache/", import.meta.url)), { recursive: true });
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(SCREENSHOT, png);
    console.log(`dashboard screenshot: ${SCREENSHOT}`);

    const drawn = await colourfulPixels(browser, png, boxes);
    for (const chart of drawn) {
      expect(chart.inked, `chart ${chart.id}: pixels that are not background`).toBeGreaterThan(200);
      expect(chart.coloured, `chart ${chart.id}: pixels of its lines' colours`).toBeGreaterThan(50);
    }
    console.log(`colours drawn per chart: ${JSON.stringify(drawn)}`);
    const hues = new Set(drawn.flatMap((c) => c.hues));
    expect(hues.size, `hues drawn across the charts: ${[...hues].join(", ")}`).toBeGreaterThanOrEqual(4);

    // The per-model breakdown redraws the charts with the model's lines.
    await page.selectOption("#breakdown", "profile");
    await page.locator(".u-legend", { hasText: "quality_first" }).first().waitFor();

    expect(problems).toEqual([]);
  });
});

interface Box {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where each visible chart's canvas lies on the full page. */
async function chartBoxes(page: Page): Promise<Box[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("figure.chart:not([hidden])")].flatMap((figure) => {
      const canvas = figure.querySelector("canvas");
      if (canvas === null) return [];
      const r = canvas.getBoundingClientRect();
      return [
        {
          id: figure.id.replace(/^chart-/, ""),
          x: r.left + window.scrollX,
          y: r.top + window.scrollY,
          width: r.width,
          height: r.height,
        },
      ];
    }),
  );
}

/**
 * Decodes the screenshot in the browser (no PNG decoder among our dependencies) and counts, in
 * each chart's box, the pixels that are not the white background, those of a saturated colour
 * (a line, not a grey grid or axis), and which of twelve hues they fall in (≥ 20 pixels each).
 */
async function colourfulPixels(
  browser: Browser,
  png: Buffer,
  boxes: Box[],
): Promise<Array<{ id: string; inked: number; coloured: number; hues: number[] }>> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(
      async ({ dataUrl, boxes }) => {
        const img = new Image();
        img.src = dataUrl;
        await img.decode();
        const canvas = document.createElement("canvas");
        canvas.width = img.width;
        canvas.height = img.height;
        const ctx = canvas.getContext("2d")!;
        ctx.drawImage(img, 0, 0);
        return boxes.map((b) => {
          const { data } = ctx.getImageData(
            Math.round(b.x),
            Math.round(b.y),
            Math.round(b.width),
            Math.round(b.height),
          );
          let inked = 0;
          let coloured = 0;
          const hueCounts = new Array<number>(12).fill(0);
          for (let i = 0; i < data.length; i += 4) {
            const [r, g, bl] = [data[i]!, data[i + 1]!, data[i + 2]!];
            const max = Math.max(r, g, bl);
            const min = Math.min(r, g, bl);
            if (min < 235) inked += 1;
            if (max - min < 80) continue;
            coloured += 1;
            const d = max - min;
            const h = max === r ? ((g - bl) / d + 6) % 6 : max === g ? (bl - r) / d + 2 : (r - g) / d + 4;
            hueCounts[Math.floor(h * 2) % 12]! += 1;
          }
          const hues = hueCounts.flatMap((n, i) => (n >= 20 ? [i] : []));
          return { id: b.id, inked, coloured, hues };
        });
      },
      { dataUrl: `data:image/png;base64,${png.toString("base64")}`, boxes },
    );
  } finally {
    await page.close();
  }
}
