/**
 * Raw HTTP/1.1 over a socket: for requests no client library will send (absolute-form targets,
 * percent-encoded paths, stalled bodies, oversized headers).
 */
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function parseRawResponse(text: string): RawResponse {
  const [head = "", ...rest] = text.split("\r\n\r\n");
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
}

/** Sends `request` as is and reads until the server closes (or `timeoutMs`). */
export function rawRequest(port: number, request: string, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, "127.0.0.1", () => socket.write(request));
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (data += d));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on("close", () => {
      clearTimeout(timer);
      if (data === "") reject(new Error("no response"));
      else resolve(parseRawResponse(data));
    });
    socket.on("error", () => undefined);
  });
}
