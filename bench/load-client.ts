/**
 * A small HTTP load client for the CPU benchmarks: keep-alive node:http, streaming requests timed at
 * the first token and counted by the server's own usage numbers. Black-box: it speaks HTTP only.
 */
import http from "node:http";

export interface StreamResult {
  ttftMs: number;
  /** Milliseconds from request start to the first and to the last token-bearing chunk. */
  firstTokenAt: number;
  lastTokenAt: number;
  completionTokens: number;
  chunks: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

export function postJson(url: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** One streaming chat request; returns when [DONE] arrives. */
export function streamChat(
  url: string,
  body: Record<string, unknown>,
  t0 = performance.now(),
): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } });
    const result: StreamResult = {
      ttftMs: NaN,
      firstTokenAt: NaN,
      lastTokenAt: NaN,
      completionTokens: 0,
      chunks: 0,
    };
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          buffer += d;
          let at: number;
          while ((at = buffer.indexOf("\n\n")) !== -1) {
            const event = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
            result.chunks++;
            // Cheap checks first: only chunks carrying text or usage need parsing.
            if (event.includes('"usage":{')) {
              const chunk = JSON.parse(event.slice(6)) as { usage?: { completion_tokens: number } };
              if (chunk.usage !== undefined) result.completionTokens = chunk.usage.completion_tokens;
            }
            // A token-bearing delta: non-empty content or reasoning (the first chunk's `content: ""`
            // carries only the role).
            if (/"(content|reasoning)":"[^"]/.test(event)) {
              const now = performance.now() - t0;
              if (Number.isNaN(result.firstTokenAt)) {
                result.firstTokenAt = now;
                result.ttftMs = now;
              }
              result.lastTokenAt = now;
            }
          }
        });
        res.on("end", () => resolve(result));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Runs `concurrency` workers that each send requests back to back until `durationMs` is over. */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  once: () => Promise<number>,
): Promise<{ requests: number; units: number; seconds: number }> {
  const end = performance.now() + durationMs;
  let requests = 0;
  let units = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        // Not `units += await once()`: that reads `units` before the await and loses the other
        // workers' updates.
        const n = await once();
        units += n;
        requests++;
      }
    }),
  );
  return { requests, units, seconds: (performance.now() - t0) / 1000 };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
