/**
 * `gpt-oss-server render [--file request.json] [--json] [--date YYYY-MM-DD]`: prints the harmony
 * prompt a Chat Completions request becomes (what the model sees), without loading a model.
 * Reads the request from the file, or from standard input.
 */
import { readFileSync } from "node:fs";
import { todayUtc } from "../config/defaults.ts";
import { isServerError } from "../errors/server-error.ts";
import { parseChatRequest } from "../serving/chat-request.ts";
import { renderBody, renderServingRequest } from "../serving/render-request.ts";

export interface RenderArgs {
  file?: string;
  json: boolean;
  date?: string;
}

export function renderCommand(args: RenderArgs): number {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(args.file ?? 0, "utf8"));
  } catch (error) {
    process.stderr.write(`gpt-oss-server render: cannot read a JSON request: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const rendered = renderBody(renderServingRequest(parseChatRequest(body), args.date ?? todayUtc()));
    process.stdout.write(args.json ? `${JSON.stringify(rendered)}\n` : `${rendered.prompt}\n`);
    if (!args.json) process.stderr.write(`(${rendered.num_tokens} tokens)\n`);
    return 0;
  } catch (error) {
    if (!isServerError(error)) throw error;
    process.stderr.write(`gpt-oss-server render: ${error.message}\n`);
    return 2;
  }
}
