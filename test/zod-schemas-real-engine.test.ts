/**
 * What the REAL tiny model (llama.cpp, random weights) writes under the grammar of each zod 4
 * schema, validated by ajv: the words are noise, but grammar-constrained noise must be valid JSON
 * under the schema (bounds, lengths, patterns, formats, unions, maps, recursion), both as a
 * response format and as a forced tool call's arguments.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { buildLlamaApp, type LlamaApp } from "./helpers/llama-app.ts";

let llama: LlamaApp;
beforeAll(async () => {
  llama = await buildLlamaApp();
});
afterAll(async () => {
  await llama?.close();
});

// ajv-formats comes with fastify (a dependency); its CJS default export is the plugin.
const ajv = new Ajv2020({ strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

const Tree: z.ZodType = z.object({
  v: z.int().min(0).max(9),
  get kids() {
    return z.array(Tree).max(2);
  },
});

/**
 * Noise inside a pattern: the steering's bias toward "analysis" (token 35644, a run of letters)
 * would fill an email's local part until max_tokens, as a pattern's `+` is unbounded. These cases
 * cancel it and favour "@" (31) and "." (13), through the client's logit_bias as any client could.
 */
const PATTERN_STEER = { "35644": -100, "31": 10, "13": 8 };

/**
 * Four requests (the suite runs on 2 cores): each schema covers several keywords, and each goes
 * through one path, the response format or a forced call's arguments (both build the grammar the
 * same way: json-schema-gbnf.ts).
 */
const SCHEMAS: Readonly<
  Record<string, { zod: z.ZodType; via: "response_format" | "tool"; bias?: Record<string, number> }>
> = {
  "bounded numbers and strings, record, bounded array, recursion": {
    zod: z.object({
      age: z.int().min(18).max(99),
      score: z.number().gt(0).lt(1),
      name: z.string().min(1).max(8),
      count: z.int(),
      tags: z.record(z.string().regex(/^[a-z]{1,4}$/), z.boolean()),
      list: z.array(z.int().min(-5).max(5)).min(1).max(3),
      tree: Tree,
    }),
    via: "response_format",
  },
  "email and uuid": { zod: z.object({ mail: z.email(), id: z.uuid() }), via: "tool", bias: PATTERN_STEER },
  "datetime and regex": {
    zod: z.object({ when: z.iso.datetime(), code: z.string().regex(/^[A-Z]{2}\d{3}$/) }),
    via: "tool",
    bias: { "35644": -100 },
  },
  "discriminatedUnion, enum, nullable, optional": {
    zod: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("a"), unit: z.enum(["c", "f"]), note: z.string().max(4).nullable() }),
      z.object({ kind: z.literal("b"), n: z.int().min(1).max(3).optional() }),
    ]),
    via: "response_format",
  },
};

interface ChatJson {
  choices: {
    message: { content: string | null; tool_calls?: { function: { arguments: string } }[] };
    finish_reason: string;
  }[];
}

async function chat(body: Record<string, unknown>): Promise<ChatJson> {
  const res = await llama.app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    payload: { model: "gpt-oss-tiny", max_tokens: 300, seed: 3, ...body },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe("zod schemas through the real engine, validated by ajv", () => {
  for (const [name, { zod, via, bias }] of Object.entries(SCHEMAS)) {
    it(`${name} (${via})`, async () => {
      const schema = z.toJSONSchema(zod);
      const validate = ajv.compile(schema);
      const body = await chat({
        ...(bias === undefined ? {} : { logit_bias: bias }),
        messages: [{ role: "user", content: "Answer" }],
        ...(via === "tool"
          ? {
              tools: [{ type: "function", function: { name: "act", strict: true, parameters: schema } }],
              tool_choice: "required",
            }
          : { response_format: { type: "json_schema", json_schema: { name: "a", strict: true, schema } } }),
      });
      const choice = body.choices[0]!;
      expect(choice.finish_reason).toBe(via === "tool" ? "tool_calls" : "stop");
      const text =
        via === "tool"
          ? (choice.message.tool_calls?.[0]?.function.arguments ?? "")
          : (choice.message.content ?? "");
      const value: unknown = JSON.parse(text);
      expect(validate(value), `${text}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    });
  }
});
