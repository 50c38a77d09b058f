/**
 * Hostile bodies through the whole HTTP app (app.inject over the fake engine: a test double for
 * the model; parsing, validation, rendering, grammar building and the scheduler are the real
 * ones). Seeded and bounded. Whatever comes in, the answer is a success or an OpenAI error
 * envelope with a 4xx, never a 5xx, never a server_error event in a stream, and the server still
 * serves afterwards. A fixed corpus holds every case a hostile review found.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_MESSAGES, MAX_TOOLS } from "../src/serving/request-limits.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";
import { rawRequest } from "./helpers/raw-http.ts";

const fake = buildFakeApp({ contextSize: 2048, maxSequences: 4, config: { maxQueue: 1000 } });
const app = fake.app;
afterAll(() => app.close());

interface Answer {
  status: number;
  body: string;
  url: string;
  payload: string;
}

async function send(
  url: string,
  payload: string,
  method: "POST" | "GET" | "DELETE" = "POST",
): Promise<Answer> {
  const res = await app.inject({ method, url, headers: { "content-type": "application/json" }, payload });
  return { status: res.statusCode, body: res.body, url, payload };
}

/** The invariant every answer keeps; returns a description of the breach, or undefined. */
function breach(a: Answer): string | undefined {
  const where = `${a.url} ${a.payload.slice(0, 300)} → ${a.status} ${a.body.slice(0, 300)}`;
  if (a.status >= 500) return `5xx: ${where}`;
  if (a.body.includes('"server_error"')) return `server_error in the body: ${where}`;
  if (a.status >= 400) {
    let parsed: { error?: { message?: unknown; type?: unknown; code?: unknown } };
    try {
      parsed = JSON.parse(a.body) as typeof parsed;
    } catch {
      return `a ${a.status} that is not JSON: ${where}`;
    }
    const e = parsed.error;
    if (typeof e?.message !== "string" || typeof e.type !== "string" || typeof e.code !== "string") {
      return `a ${a.status} outside the envelope: ${where}`;
    }
  }
  return undefined;
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    "",
    "__proto__",
    "constructor",
    "toString",
    "<|end|>",
    "<|start|>assistant",
    "%ZZ",
    "\u0000",
    "🙂",
  ),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, 0.5, Number.MAX_SAFE_INTEGER, 201_088, 1e9),
);
const anyValue = fc.oneof(
  { depthSize: "small" },
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.anything({ maxDepth: 3 }),
);

/** Schema-shaped objects with hostile keywords and values. */
const hostileSchema: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  // The leaf comes first: at maxDepth fast-check takes the first choice, so the tree stays small
  // (a recursive first choice made schemas of 10^4 nodes, and the generator ran out of memory).
  node: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    anyValue,
    fc.record(
      {
        type: fc.oneof(
          fc.constantFrom("object", "array", "string", "integer", "number", "boolean", "null", "nope"),
          anyValue,
        ),
        properties: fc.dictionary(hostileString, tie("node"), { maxKeys: 2 }),
        required: fc.oneof(fc.array(hostileString, { maxLength: 3 }), anyValue),
        items: tie("node"),
        anyOf: fc.array(tie("node"), { maxLength: 2 }),
        enum: fc.oneof(fc.array(anyValue, { maxLength: 3 }), anyValue),
        $ref: fc.constantFrom(
          "#",
          "#/$defs/a",
          "#/$defs/%ZZ",
          "#/definitions/b",
          "http://x",
          "#/$defs/__proto__",
        ),
        $defs: fc.dictionary(fc.constantFrom("a", "b", "__proto__"), tie("node"), { maxKeys: 2 }),
        minItems: hostileNumber,
        maxItems: hostileNumber,
        format: fc.oneof(fc.constantFrom("date", "uuid", "email"), anyValue),
        additionalProperties: fc.oneof(fc.boolean(), tie("node")),
        const: anyValue,
      },
      { requiredKeys: [] },
    ),
  ),
})).node;

/** Schemas the server supports (so that requests get as far as the grammar and the engine). */
const validSchema: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    fc.record({ type: fc.constantFrom("string", "integer", "number", "boolean", "null") }),
    fc.record({
      enum: fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { minLength: 1, maxLength: 4 }),
    }),
    fc.record(
      {
        type: fc.constant("object"),
        properties: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), tie("node"), { maxKeys: 3 }),
        additionalProperties: fc.boolean(),
      },
      { requiredKeys: ["type"] },
    ),
    fc.record(
      { type: fc.constant("array"), items: tie("node"), maxItems: fc.integer({ min: 0, max: 5 }) },
      { requiredKeys: ["type"] },
    ),
    fc.record({ anyOf: fc.array(tie("node"), { minLength: 1, maxLength: 2 }) }),
  ),
})).node;

/**
 * Mostly a valid value, sometimes a hostile one: a body is refused at its first bad field, so a
 * fuzz of hostile fields only would test the parser and never the paths behind it.
 */
function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: hostile, weight: 1 });
}

const schema = mostly(validSchema, hostileSchema);

const text = fc.oneof(fc.string({ maxLength: 40 }), hostileString);
const content = mostly(
  fc.oneof(text, fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 3 })),
  fc.oneof(
    fc.array(fc.oneof(fc.record({ type: hostileString, text: anyValue }), anyValue), { maxLength: 3 }),
    anyValue,
  ),
);

const message = mostly(
  fc.oneof(
    fc.record({ role: fc.constantFrom("user", "system", "developer"), content }),
    fc.record(
      {
        role: fc.constant("assistant"),
        content,
        reasoning: mostly(text, anyValue),
        tool_calls: fc.array(
          fc.record({
            id: hostileString,
            type: fc.constant("function"),
            function: fc.record({ name: hostileString, arguments: hostileString }),
          }),
          { maxLength: 2 },
        ),
      },
      { requiredKeys: ["role"] },
    ),
    fc.record({ role: fc.constant("tool"), content, tool_call_id: hostileString }),
  ),
  fc.oneof(fc.record({ role: hostileString, content }), anyValue),
);

const tool = mostly(
  fc.record(
    {
      type: fc.constant("function"),
      function: fc.record(
        {
          name: mostly(fc.constantFrom("get_weather", "f", "lookup"), hostileString),
          parameters: schema,
          strict: mostly(fc.constant(false), fc.oneof(fc.boolean(), anyValue)),
        },
        { requiredKeys: ["name"] },
      ),
    },
    { requiredKeys: ["type", "function"] },
  ),
  fc.record({ type: hostileString, function: anyValue }, { requiredKeys: [] }),
);

const chatBody = fc.record(
  {
    model: mostly(
      fc.constantFrom("gpt-oss-fake", "auto"),
      fc.oneof(fc.constant("gpt-oss-120b"), hostileString),
    ),
    // A user message first: without one every body is refused for that alone.
    messages: mostly(
      fc
        .tuple(fc.record({ role: fc.constant("user"), content }), fc.array(message, { maxLength: 3 }))
        .map(([first, rest]) => [first, ...rest]),
      anyValue,
    ),
    max_tokens: mostly(fc.integer({ min: 1, max: 20 }), fc.oneof(hostileNumber, anyValue)),
    temperature: mostly(fc.double({ min: 0, max: 2, noNaN: true }), fc.oneof(hostileNumber, anyValue)),
    top_p: mostly(fc.double({ min: 0.01, max: 1, noNaN: true }), hostileNumber),
    seed: mostly(fc.integer(), hostileNumber),
    stop: mostly(
      fc.array(text, { maxLength: 4 }),
      fc.oneof(fc.array(hostileString, { maxLength: 5 }), anyValue),
    ),
    logit_bias: mostly(
      fc.dictionary(fc.nat({ max: 201_087 }).map(String), fc.integer({ min: -100, max: 100 }), {
        maxKeys: 4,
      }),
      fc.oneof(
        fc.dictionary(fc.oneof(fc.nat().map(String), hostileString), hostileNumber, { maxKeys: 4 }),
        anyValue,
      ),
    ),
    stream: mostly(fc.boolean(), anyValue),
    stream_options: mostly(fc.record({ include_usage: fc.boolean() }), anyValue),
    n: mostly(fc.constant(1), hostileNumber),
    tools: mostly(fc.array(tool, { maxLength: 2 }), anyValue),
    tool_choice: mostly(
      fc.oneof(
        fc.constantFrom("auto", "none"),
        fc.record({
          type: fc.constant("function"),
          function: fc.record({ name: fc.constantFrom("f", "lookup") }),
        }),
      ),
      fc.oneof(
        fc.record({ type: fc.constant("function"), function: fc.record({ name: hostileString }) }),
        anyValue,
      ),
    ),
    response_format: mostly(
      fc.oneof(
        fc.record({ type: fc.constantFrom("json_object", "text") }),
        fc.record({
          type: fc.constant("json_schema"),
          json_schema: fc.record(
            { name: fc.constant("x"), schema, strict: fc.boolean() },
            { requiredKeys: ["name"] },
          ),
        }),
      ),
      fc.oneof(fc.record({ type: fc.constant("xml") }), anyValue),
    ),
    reasoning_effort: mostly(
      fc.constantFrom("low", "medium", "high"),
      fc.oneof(fc.constantFrom("none", "xhigh"), anyValue),
    ),
    profile: mostly(fc.constantFrom("latency_first", "auto", "balanced"), hostileString),
    ignore_eos: mostly(fc.boolean(), anyValue),
    min_tokens: mostly(fc.integer({ min: 0, max: 4 }), hostileNumber),
  },
  { requiredKeys: ["model", "messages"] },
);

const inputItem = mostly(
  fc.oneof(
    fc.record({
      type: fc.constant("message"),
      role: fc.constantFrom("user", "assistant", "system"),
      content,
    }),
    fc.record({ role: fc.constantFrom("user", "developer"), content }),
  ),
  fc.oneof(
    fc.record(
      {
        type: fc.constantFrom(
          "function_call",
          "function_call_output",
          "reasoning",
          "constructor",
          "__proto__",
          "toString",
          "item_reference",
        ),
        call_id: hostileString,
        name: hostileString,
        arguments: hostileString,
        output: content,
        id: hostileString,
      },
      { requiredKeys: ["type"] },
    ),
    anyValue,
  ),
);

const responsesBody = fc.record(
  {
    model: mostly(fc.constant("gpt-oss-fake"), hostileString),
    input: mostly(fc.oneof(text, fc.array(inputItem, { minLength: 1, maxLength: 4 })), anyValue),
    instructions: mostly(text, anyValue),
    previous_response_id: fc.oneof(hostileString, anyValue),
    max_output_tokens: mostly(fc.integer({ min: 1, max: 20 }), hostileNumber),
    tools: mostly(
      fc.array(
        fc.record(
          {
            type: mostly(fc.constant("function"), hostileString),
            name: mostly(fc.constant("f"), hostileString),
            parameters: schema,
            strict: mostly(fc.constant(false), fc.boolean()),
          },
          { requiredKeys: ["type", "name"] },
        ),
        { maxLength: 2 },
      ),
      anyValue,
    ),
    text: mostly(
      fc.record({ format: fc.record({ type: fc.constant("json_schema"), name: fc.constant("x"), schema }) }),
      anyValue,
    ),
    reasoning: mostly(fc.record({ effort: fc.constantFrom("low", "medium", "high") }), anyValue),
    stream: mostly(fc.boolean(), anyValue),
    store: mostly(fc.boolean(), anyValue),
    metadata: mostly(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
      anyValue,
    ),
  },
  { requiredKeys: ["model", "input"] },
);

/** A JSON text with random damage: cut, a byte changed, a segment repeated. */
const mutatedJson = fc
  .tuple(
    chatBody.map((b) => JSON.stringify(b)),
    fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom("cut", "flip", "dup", "drop")), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([text, edits]) => {
    let t = text;
    for (const [a, b, op] of edits) {
      const i = t.length === 0 ? 0 : a % t.length;
      if (op === "cut") t = t.slice(0, i);
      else if (op === "flip") t = t.slice(0, i) + String.fromCharCode(32 + (b % 95)) + t.slice(i + 1);
      else if (op === "dup") t = t.slice(0, i) + t.slice(i, i + (b % 20)) + t.slice(i);
      else t = t.slice(0, i) + t.slice(i + 1 + (b % 5));
    }
    return t;
  });

async function assertServes(): Promise<void> {
  const ok = await send(
    "/v1/chat/completions",
    JSON.stringify({ model: "gpt-oss-fake", messages: [{ role: "user", content: "Hi" }], max_tokens: 2 }),
  );
  expect(ok.status).toBe(200);
}

const params = { seed: 9, numRuns: 250, interruptAfterTimeLimit: 60_000 } as const;

describe("fuzz: hostile bodies never give a 5xx", () => {
  it("chat completions with well-shaped hostile values", async () => {
    const statuses: number[] = [];
    await fc.assert(
      fc.asyncProperty(chatBody, async (body) => {
        const a = await send("/v1/chat/completions", JSON.stringify(body));
        statuses.push(a.status);
        expect(breach(a)).toBeUndefined();
      }),
      params,
    );
    // The bodies must reach past validation too, or the fuzz proves only the parser.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(statuses.length / 20);
    await assertServes();
  });

  it("the render endpoint with the same bodies", async () => {
    await fc.assert(
      fc.asyncProperty(chatBody, async (body) => {
        expect(breach(await send("/v1/chat/render", JSON.stringify(body)))).toBeUndefined();
      }),
      { ...params, numRuns: 150 },
    );
  });

  it("responses with hostile items, tools and formats", async () => {
    const statuses: number[] = [];
    await fc.assert(
      fc.asyncProperty(responsesBody, async (body) => {
        const a = await send("/v1/responses", JSON.stringify(body));
        statuses.push(a.status);
        expect(breach(a)).toBeUndefined();
      }),
      params,
    );
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(statuses.length / 20);
    await assertServes();
  });

  it("mutated JSON on every POST route", async () => {
    const routes = ["/v1/chat/completions", "/v1/responses", "/v1/chat/render", "/v1/cancel/x"];
    await fc.assert(
      fc.asyncProperty(mutatedJson, fc.constantFrom(...routes), async (payload, url) => {
        expect(breach(await send(url, payload))).toBeUndefined();
      }),
      params,
    );
    await assertServes();
  });

  it("hostile ids in paths", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.constantFrom("GET", "DELETE", "POST"),
        async (id, method) => {
          const path =
            method === "POST"
              ? `/v1/cancel/${encodeURIComponent(id)}`
              : `/v1/responses/${encodeURIComponent(id)}`;
          expect(breach(await send(path, "", method))).toBeUndefined();
        },
      ),
      { ...params, numRuns: 150 },
    );
  });
});

describe("fixed corpus: every case the hostile review found", () => {
  const user = [{ role: "user", content: "Hi" }];
  const nested = (depth: number): unknown => {
    let s: unknown = { type: "string" };
    for (let i = 0; i < depth; i++) s = { type: "array", items: s };
    return s;
  };
  const format = (s: unknown) => ({
    type: "json_schema",
    json_schema: { name: "x", strict: true, schema: s },
  });
  const everyToken = Object.fromEntries(Array.from({ length: 201_088 }, (_, i) => [String(i), -100]));
  const chat: Array<[string, unknown]> = [
    ["schema nested 2,000 levels", { response_format: format(nested(2000)) }],
    ["$ref with a bad escape", { response_format: format({ $ref: "#/$defs/%ZZ", $defs: {} }) }],
    ["self-referencing $ref", { response_format: format({ $ref: "#" }) }],
    [
      "a $defs cycle",
      {
        response_format: format({
          $ref: "#/$defs/a",
          $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } },
        }),
      },
    ],
    [
      "minItems 100000",
      { response_format: format({ type: "array", items: { type: "string" }, minItems: 100_000 }) },
    ],
    [
      "a strict tool nested 2,000 levels",
      { tools: [{ type: "function", function: { name: "f", strict: true, parameters: nested(2000) } }] },
    ],
    [
      "a non-strict tool nested 2,000 levels",
      { tools: [{ type: "function", function: { name: "f", parameters: nested(2000) } }] },
    ],
    ["logit_bias banning every token", { logit_bias: everyToken }],
    ["logit_bias banning every token, streaming", { logit_bias: everyToken, stream: true }],
  ];
  for (const [name, extra] of chat) {
    it(`chat: ${name} → 4xx in the envelope`, async () => {
      const a = await send(
        "/v1/chat/completions",
        JSON.stringify({ model: "gpt-oss-fake", messages: user, max_tokens: 4, ...(extra as object) }),
      );
      expect(breach(a)).toBeUndefined();
      expect(a.status).toBeGreaterThanOrEqual(400);
    });
  }
  it("completions: logit_bias banning every token → 400 naming logit_bias, streaming or not", async () => {
    for (const stream of [false, true]) {
      const a = await send(
        "/v1/completions",
        JSON.stringify({
          model: "gpt-oss-fake",
          prompt: "Hi",
          max_tokens: 4,
          logit_bias: everyToken,
          stream,
        }),
      );
      expect(breach(a)).toBeUndefined();
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body).error.param).toBe("logit_bias");
    }
  });
  // Schemas whose work would explode: each is answered quickly, 2xx or 4xx, never a 5xx.
  const chain = (n: number) => ({
    $ref: "#/$defs/d0",
    $defs: Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        `d${i}`,
        i + 1 < n ? { type: "object", properties: { x: { $ref: `#/$defs/d${i + 1}` } } } : { type: "string" },
      ]),
    ),
  });
  const branching = (depth: number): unknown => {
    // anyOf branches inherit their siblings, properties included: 10 branches a level, 10^depth copies.
    let s: unknown = { type: "string" };
    for (let i = 0; i < depth; i++) {
      s = { type: "object", properties: { p: s }, anyOf: Array.from({ length: 10 }, () => ({})) };
    }
    return s;
  };
  const repeatedTypes = (depth: number): unknown => {
    let s: unknown = { type: "string" };
    for (let i = 0; i < depth; i++) s = { type: Array(20).fill("object"), properties: { p: s } };
    return s;
  };
  const strictTool = (parameters: unknown) => ({
    tools: [{ type: "function", function: { name: "f", strict: true, parameters } }],
  });
  const looseTool = (parameters: unknown) => ({
    tools: [{ type: "function", function: { name: "f", parameters } }],
  });
  const heavy: Array<[string, unknown, "4xx" | "any"]> = [
    ["a schema nested 100 levels (under the body's limit)", { response_format: format(nested(100)) }, "4xx"],
    ["a non-strict tool nested 100 levels", looseTool(nested(100)), "any"],
    ["a chain of 5,000 $defs", { response_format: format(chain(5000)) }, "any"],
    ["anyOf siblings multiplying 10^8 times", { response_format: format(branching(8)) }, "4xx"],
    ["a non-strict tool whose anyOf siblings multiply", looseTool(branching(8)), "any"],
    ["a type listed 20 times, nested 10 levels (strict)", strictTool(repeatedTypes(10)), "4xx"],
    ["a type listed 20 times, nested 10 levels (non-strict)", looseTool(repeatedTypes(10)), "any"],
    [
      "an enum of 5,000 values",
      { response_format: format({ enum: Array.from({ length: 5000 }, (_, i) => i) }) },
      "4xx",
    ],
    ["maxItems 1e9", { response_format: format({ type: "array", maxItems: 1e9 }) }, "4xx"],
  ];
  for (const [name, extra, expected] of heavy) {
    it(`chat: ${name} → ${expected === "4xx" ? "4xx" : "answered"}, never a 5xx`, async () => {
      const a = await send(
        "/v1/chat/completions",
        JSON.stringify({ model: "gpt-oss-fake", messages: user, max_tokens: 4, ...(extra as object) }),
      );
      expect(breach(a)).toBeUndefined();
      if (expected === "4xx") expect(a.status).toBeGreaterThanOrEqual(400);
    });
  }
  // Count limits (src/serving/request-limits.ts): a 400 naming the param, before any per-item work.
  const tools = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      type: "function",
      function: { name: `f${i}`, parameters: { type: "object" } },
    }));
  const counted: Array<[string, string, unknown, string]> = [
    ["chat: 200 tools", "/v1/chat/completions", { messages: user, tools: tools(200) }, "tools"],
    [
      "chat: 2,049 messages",
      "/v1/chat/completions",
      { messages: Array.from({ length: MAX_MESSAGES + 1 }, () => user[0]) },
      "messages",
    ],
    [
      "responses: 129 tools",
      "/v1/responses",
      { input: "Hi", tools: tools(MAX_TOOLS + 1).map((t) => ({ type: "function", name: t.function.name })) },
      "tools",
    ],
    [
      "responses: 2,049 input items",
      "/v1/responses",
      { input: Array.from({ length: MAX_MESSAGES + 1 }, () => ({ role: "user", content: "Hi" })) },
      "input",
    ],
  ];
  for (const [name, url, extra, param] of counted) {
    it(`${name} → 400 naming ${param}`, async () => {
      const limit = url === "/v1/responses" ? { max_output_tokens: 4 } : { max_tokens: 4 };
      const a = await send(url, JSON.stringify({ model: "gpt-oss-fake", ...limit, ...(extra as object) }));
      expect(breach(a)).toBeUndefined();
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body).error).toMatchObject({ code: "invalid_value", param });
      expect(JSON.parse(a.body).error.message).toMatch(/at most/);
    });
  }
  it("at the count limits (128 tools, 2,048 messages) a request is served", async () => {
    // A context that holds 2,048 short messages (this file's app has 2,048 tokens).
    const roomy = buildFakeApp({ contextSize: 65_536 });
    const res = await roomy.app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({
        model: "gpt-oss-fake",
        max_tokens: 2,
        messages: Array.from({ length: MAX_MESSAGES }, () => ({ role: "user", content: "Hi" })),
        tools: tools(MAX_TOOLS),
      }),
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    await roomy.app.close();
  });
  it("a JSON body nested past 128 levels → 400 naming the limit (the JSON content type included)", async () => {
    const deep = (n: number) => ({
      model: "gpt-oss-fake",
      messages: user,
      max_tokens: 2,
      metadata_probe: JSON.parse("[".repeat(n) + "]".repeat(n)) as unknown,
    });
    const a = await send("/v1/chat/completions", JSON.stringify(deep(200)));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body).error.message).toMatch(/nested deeper than 128 levels/);
    // Under the limit the body is served (unknown fields are ignored, as OpenAI does).
    const b = await send("/v1/chat/completions", JSON.stringify(deep(120)));
    expect(b.status).toBe(200);
  });
  it("a body with a __proto__ key → 400", async () => {
    const a = await send(
      "/v1/chat/completions",
      '{"model":"gpt-oss-fake","messages":[{"role":"user","content":"Hi"}],"logit_bias":{"__proto__":{"1":5}}}',
    );
    expect(a.status).toBe(400);
    expect(breach(a)).toBeUndefined();
  });
  for (const type of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    it(`responses: input item of type ${type} → 400`, async () => {
      const a = await send(
        "/v1/responses",
        JSON.stringify({ model: "gpt-oss-fake", input: [{ type, content: "x" }] }),
      );
      expect(a.status).toBe(400);
      expect(breach(a)).toBeUndefined();
    });
  }
  it("a body nested 100,000 levels → 400", async () => {
    const a = await send("/v1/chat/completions", "[".repeat(100_000) + "]".repeat(100_000));
    expect(a.status).toBe(400);
    expect(breach(a)).toBeUndefined();
  });
  it("the server still serves after the corpus", assertServes);
});

describe("fixed corpus: refusals before routing, over a socket (Node's parser, fastify's router)", () => {
  let port = 0;
  beforeAll(async () => {
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    port = typeof address === "object" && address !== null ? address.port : 0;
  });
  const get = (target: string, headers = "") =>
    `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`;
  const cases: Array<[string, string, number, string]> = [
    // Node counts the request line and the headers together against its 16 KiB.
    [
      "a header block over 16 KiB",
      get("/v1/models", `X-Big: ${"a".repeat(20_000)}\r\n`),
      431,
      "headers_too_large",
    ],
    ["a request line over 16 KiB", get(`/v1/models?q=${"a".repeat(20_000)}`), 431, "headers_too_large"],
    ["bad percent-encoding in a path parameter", get("/v1/responses/%ZZ"), 400, "invalid_request_error"],
    ["a path segment over 100 characters", get(`/v1/responses/${"r".repeat(101)}`), 414, "uri_too_long"],
    ["a request line that is not HTTP", "HELLO\r\n\r\n", 400, "invalid_request_error"],
  ];
  for (const [name, request, status, code] of cases) {
    it(`${name} → ${status} ${code} in the envelope`, async () => {
      const res = await rawRequest(port, request);
      expect(res.status).toBe(status);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.headers["x-request-id"]).toMatch(/^req_/);
      const answer = { status: res.status, body: res.body, url: name, payload: "" };
      expect(breach(answer)).toBeUndefined();
      expect(JSON.parse(res.body).error.code).toBe(code);
    });
  }
  it("a path segment of 100 characters reaches the route (404 for an unknown response id)", async () => {
    const res = await rawRequest(port, get(`/v1/responses/${"r".repeat(100)}`));
    expect(res.status).toBe(404);
  });
  it("the server still serves after them", assertServes);
});
