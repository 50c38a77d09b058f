/**
 * A test double of an OpenAI-compatible server on node:http: each test gives the handler for
 * POST /v1/chat/completions; /v1/models lists one model. Only what the client tests need.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeOpenAiServerForTest {
  url: string;
  close(): Promise<void>;
}

export async function startFakeOpenAiServerForTest(
  chat: (body: Record<string, unknown>, res: http.ServerResponse) => void,
): Promise<FakeOpenAiServerForTest> {
  const server = http.createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (text += d));
    req.on("end", () => {
      if (req.url === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "fake-model", object: "model" }] }));
        return;
      }
      if (req.url === "/v1/chat/completions" && req.method === "POST") {
        chat(JSON.parse(text) as Record<string, unknown>, res);
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { message: "not found", type: "invalid_request_error", code: "not_found" } }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function chunk(delta: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
}
