/**
 * The Responses API's tool dialects and the newer Responses features over the scripted FakeEngine,
 * in-process: Codex's `namespace` tools and hosted `web_search` (left out with a warning, a 400
 * under --strict-tools), namespaced calls mapped back to the client's names, `custom` (freeform)
 * tools, `function_call_output` without `call_id`, `item_reference`, `reasoning.summary`,
 * GET /v1/responses/{id}/input_items, and `background` with polling and cancel.
 */
import { describe, expect, it } from "vitest";
import { buildFakeApp, type FakeAppOptions } from "./helpers/fake-app.ts";
import { FINAL_ANSWER, RecordingScriptForTest, eventShape, sseEvents } from "./helpers/responses-sse.ts";

type App = ReturnType<typeof buildFakeApp>["app"];

function post(app: App, body: Record<string, unknown>) {
  return app.inject({
    method: "POST",
    url: "/v1/responses",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ model: "gpt-oss-fake", ...body }),
  });
}

/** The shape of what Codex CLI 0.169 sends: plain functions, a namespace, a hosted web_search. */
const codexTools = [
  {
    type: "function",
    name: "exec_command",
    description: "Runs a command in a PTY.",
    strict: false,
    parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] },
  },
  {
    type: "namespace",
    name: "multi_agent_v1",
    description: "Tools for spawning and managing sub-agents.",
    tools: [
      {
        type: "function",
        name: "spawn_agent",
        description: "Spawn a sub-agent.",
        strict: false,
        parameters: { type: "object", properties: { task: { type: "string" } }, required: ["task"] },
      },
      {
        type: "function",
        name: "close_agent",
        strict: false,
        parameters: { type: "object", properties: {} },
      },
    ],
  },
  { type: "web_search", external_web_access: false },
];

const SPAWN_CALL =
  "<|channel|>analysis<|message|>Delegate.<|end|>" +
  '<|start|>assistant<|channel|>commentary to=multi_agent_v1.spawn_agent <|constrain|>json<|message|>{"task":"t"}<|call|>';

const PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch";
const PATCH_CALL =
  "<|channel|>analysis<|message|>Patch it.<|end|>" +
  `<|start|>assistant<|channel|>commentary to=functions.apply_patch<|message|>${PATCH}<|call|>`;

const applyPatch = {
  type: "custom",
  name: "apply_patch",
  description: "Apply a patch.",
  format: { type: "grammar", syntax: "lark", definition: 'start: "*** Begin Patch" LF' },
};

function scripted(pick: (prompt: string) => string, options: FakeAppOptions = {}) {
  const recorder = new RecordingScriptForTest(pick);
  return { ...buildFakeApp({ script: recorder.script, ...options }), recorder };
}

describe("Codex's tools: namespaces and hosted tools", () => {
  it("renders a namespace as its own harmony block and leaves web_search out with a warning", async () => {
    const { app, recorder } = scripted(() => FINAL_ANSWER);
    const res = await post(app, {
      input: "Say hi",
      tools: codexTools,
      store: false,
      reasoning: { summary: "auto" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-gptoss-warning"]).toContain("web_search");
    const prompt = recorder.prompts[0]!;
    expect(prompt).toContain(
      "## multi_agent_v1\n\n// Tools for spawning and managing sub-agents.\nnamespace multi_agent_v1 {\n\n" +
        "// Spawn a sub-agent.\ntype spawn_agent = (_: {\ntask: string,\n}) => any;\n\n" +
        "type close_agent = () => any;\n\n} // namespace multi_agent_v1",
    );
    expect(prompt).toContain("namespace functions {\n\n// Runs a command in a PTY.\ntype exec_command");
    expect(prompt).not.toContain("web_search");
    // The response echoes every tool as sent.
    expect(res.json().tools.map((t: { type: string }) => t.type)).toEqual([
      "function",
      "namespace",
      "web_search",
    ]);
  });

  it("streams with the warning header too", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const res = await post(app, { input: "Say hi", tools: codexTools, stream: true });
    expect(res.headers["x-gptoss-warning"]).toContain("web_search");
    expect(sseEvents(res.body).at(-1)!.event).toBe("response.completed");
  });

  it("--strict-tools refuses the hosted tool with unsupported_tool", async () => {
    const { app } = scripted(() => FINAL_ANSWER, { config: { strictTools: true } });
    const res = await post(app, { input: "Say hi", tools: codexTools });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "unsupported_tool", param: "tools.2.type" });
  });

  it("a namespaced call comes back with the client's name and namespace, and renders back", async () => {
    const { app, recorder } = scripted((prompt) =>
      prompt.includes("<|start|>multi_agent_v1.spawn_agent to=assistant") ? FINAL_ANSWER : SPAWN_CALL,
    );
    const first = (await post(app, { input: "Delegate", tools: codexTools })).json();
    const call = first.output.find((o: { type: string }) => o.type === "function_call");
    expect(call).toMatchObject({
      name: "spawn_agent",
      namespace: "multi_agent_v1",
      arguments: '{"task":"t"}',
    });

    // Codex replays the call (with its namespace) and sends the output with store: false.
    const second = (
      await post(app, {
        store: false,
        tools: codexTools,
        input: [
          { role: "user", content: "Delegate" },
          {
            type: "function_call",
            call_id: call.call_id,
            name: "spawn_agent",
            namespace: "multi_agent_v1",
            arguments: '{"task":"t"}',
          },
          { type: "function_call_output", call_id: call.call_id, output: "spawned" },
        ],
      })
    ).json();
    expect(second.status).toBe("completed");
    const prompt = recorder.prompts[1]!;
    expect(prompt).toContain(
      '<|start|>assistant<|channel|>commentary to=multi_agent_v1.spawn_agent <|constrain|>json<|message|>{"task":"t"}<|call|>',
    );
    expect(prompt).toContain(
      "<|start|>multi_agent_v1.spawn_agent to=assistant<|channel|>commentary<|message|>spawned<|end|>",
    );
  });

  it("a function_call_output without call_id pairs with the latest unanswered call", async () => {
    const { app, recorder } = scripted(() => FINAL_ANSWER);
    const res = await post(app, {
      tools: codexTools,
      input: [
        { role: "user", content: "Go" },
        { type: "function_call", call_id: "c1", name: "exec_command", arguments: '{"cmd":"ls"}' },
        { type: "function_call_output", call_id: "c1", output: "a.txt" },
        {
          type: "function_call",
          call_id: "c2",
          name: "spawn_agent",
          namespace: "multi_agent_v1",
          arguments: "{}",
        },
        { type: "function_call_output", output: "goal reached" },
      ],
    });
    expect(res.statusCode).toBe(200);
    const prompt = recorder.prompts[0]!;
    expect(prompt).toContain(
      "<|start|>functions.exec_command to=assistant<|channel|>commentary<|message|>a.txt",
    );
    expect(prompt).toContain(
      "<|start|>multi_agent_v1.spawn_agent to=assistant<|channel|>commentary<|message|>goal reached<|end|>",
    );
  });

  it("a tool output's image part becomes a note (the client cannot choose what a tool returned)", async () => {
    const { app, recorder } = scripted(() => FINAL_ANSWER);
    const res = await post(app, {
      input: [
        { role: "user", content: "Look" },
        { type: "function_call", call_id: "c1", name: "view_image", arguments: "{}" },
        {
          type: "function_call_output",
          call_id: "c1",
          output: [
            { type: "input_text", text: "the image: " },
            { type: "input_image", image_url: "data:image/png;base64,AAAA" },
          ],
        },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(recorder.prompts[0]).toContain(
      "<|message|>the image: [input_image omitted: gpt-oss reads text only]<|end|>",
    );
  });

  it("a tool_choice naming a hosted tool is served as auto with a warning (a 400 when strict)", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const res = await post(app, {
      input: "x",
      tools: codexTools,
      tool_choice: { type: "web_search_preview" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-gptoss-warning"]).toContain("tool_choice 'web_search_preview'");
    expect(res.json().tool_choice).toBe("auto");
    const strict = scripted(() => FINAL_ANSWER, { config: { strictTools: true } });
    const refused = await post(strict.app, { input: "x", tool_choice: { type: "web_search_preview" } });
    expect(refused.json().error).toMatchObject({ code: "unsupported_tool", param: "tool_choice.type" });
  });

  it("an output with a call_id that matches no call is still a 400", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const res = await post(app, { input: [{ type: "function_call_output", call_id: "nope", output: "1" }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("input.0.call_id");
  });
});

describe("custom (freeform) tools", () => {
  it("renders (FREEFORM) with its grammar; the call is a custom_tool_call with raw input", async () => {
    const { app, recorder } = scripted((prompt) =>
      prompt.includes("<|start|>functions.apply_patch to=assistant") ? FINAL_ANSWER : PATCH_CALL,
    );
    const first = (await post(app, { input: "Add a file", tools: [applyPatch] })).json();
    expect(recorder.prompts[0]).toContain(
      '// Apply a patch.\n// FREEFORM input in this lark grammar:\n// start: "*** Begin Patch" LF\n' +
        "type apply_patch = (FREEFORM) => any;",
    );
    const call = first.output.find((o: { type: string }) => o.type === "custom_tool_call");
    expect(call).toMatchObject({
      type: "custom_tool_call",
      name: "apply_patch",
      input: PATCH,
      status: "completed",
    });
    expect(call.id).toMatch(/^ctc_/);

    await post(app, {
      previous_response_id: first.id,
      tools: [applyPatch],
      input: [{ type: "custom_tool_call_output", call_id: call.call_id, output: "Done!" }],
    });
    const prompt = recorder.prompts[1]!;
    // Raw text: no <|constrain|>json on a freeform call.
    expect(prompt).toContain(
      `<|start|>assistant<|channel|>commentary to=functions.apply_patch<|message|>${PATCH}<|call|>`,
    );
    expect(prompt).toContain(
      "<|start|>functions.apply_patch to=assistant<|channel|>commentary<|message|>Done!<|end|>",
    );
  });

  it("streams custom_tool_call_input deltas and done", async () => {
    const { app } = scripted(() => PATCH_CALL);
    const events = sseEvents((await post(app, { input: "Patch", tools: [applyPatch], stream: true })).body);
    const shape = eventShape(events);
    expect(shape).toContain("response.custom_tool_call_input.delta");
    const done = events.find((e) => e.event === "response.custom_tool_call_input.done")!;
    expect(done.data.input).toBe(PATCH);
    const deltas = events.filter((e) => e.event === "response.custom_tool_call_input.delta");
    expect(deltas.map((e) => e.data.delta).join("")).toBe(PATCH);
  });

  it("tool_choice {type: custom} forces the freeform tool; a function by that name is a 400", async () => {
    const { app } = scripted(() => PATCH_CALL);
    expect(
      (
        await post(app, {
          input: "x",
          tools: [applyPatch],
          tool_choice: { type: "custom", name: "apply_patch" },
        })
      ).statusCode,
    ).toBe(200);
    const res = await post(app, {
      input: "x",
      tools: [applyPatch],
      tool_choice: { type: "function", name: "apply_patch" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("tool_choice.name");
  });
});

describe("reasoning.summary", () => {
  it("puts the reasoning text in the summary, echoes the setting, and streams summary events", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const body = (await post(app, { input: "Hi", reasoning: { summary: "detailed" } })).json();
    expect(body.reasoning.summary).toBe("detailed");
    expect(body.output[0].summary).toEqual([{ type: "summary_text", text: "Answer from the tool result." }]);

    const events = sseEvents(
      (await post(app, { input: "Hi", reasoning: { summary: "auto" }, stream: true })).body,
    );
    expect(eventShape(events).slice(0, 8)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_text.delta",
    ]);
    const done = events.find((e) => e.event === "response.reasoning_summary_text.done")!;
    expect(done.data).toMatchObject({ summary_index: 0, text: "Answer from the tool result." });
    expect(events.find((e) => e.event === "response.reasoning_summary_part.done")!.data.part.text).toBe(
      "Answer from the tool result.",
    );
  });

  it("without it the summary stays empty", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const body = (await post(app, { input: "Hi" })).json();
    expect(body.output[0].summary).toEqual([]);
    expect(body.reasoning.summary).toBeNull();
  });
});

describe("item_reference and input_items", () => {
  it("resolves item_reference (with or without type) from the store", async () => {
    const { app, recorder } = scripted(() => FINAL_ANSWER);
    const first = (await post(app, { input: "My name is Ada." })).json();
    const [reasoning, message] = first.output;
    const res = await post(app, {
      input: [
        { role: "user", content: "My name is Ada." },
        { type: "item_reference", id: reasoning.id },
        { id: message.id },
        { role: "user", content: "And my name?" },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(recorder.prompts[1]).toContain(
      "<|start|>assistant<|channel|>final<|message|>It is 20 degrees in Paris.<|end|><|start|>user<|message|>And my name?",
    );
  });

  it("an unknown item_reference is a 400 naming it", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const res = await post(app, {
      input: [
        { role: "user", content: "x" },
        { type: "item_reference", id: "msg_nope" },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("input.1.id");
  });

  it("lists a response's own input items in OpenAI's list shape, with limit, order and after", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const first = (await post(app, { input: "one" })).json();
    const second = (
      await post(app, {
        previous_response_id: first.id,
        input: [
          { role: "user", content: "two", id: "msg_client" },
          { role: "user", content: [{ type: "input_text", text: "three" }] },
        ],
      })
    ).json();
    const list = (await app.inject(`/v1/responses/${second.id}/input_items`)).json();
    expect(list).toMatchObject({
      object: "list",
      has_more: false,
      first_id: list.data[0].id,
      last_id: "msg_client",
    });
    expect(list.data.map((i: { content: Array<{ text: string }> }) => i.content[0]!.text)).toEqual([
      "three",
      "two",
    ]);
    expect(list.data[1]).toEqual({
      type: "message",
      id: "msg_client",
      role: "user",
      content: [{ type: "input_text", text: "two" }],
      status: "completed",
    });
    const page = (await app.inject(`/v1/responses/${second.id}/input_items?order=asc&limit=1`)).json();
    expect(page).toMatchObject({ first_id: "msg_client", last_id: "msg_client", has_more: true });
    const next = (
      await app.inject(`/v1/responses/${second.id}/input_items?order=asc&after=msg_client`)
    ).json();
    expect(next.data.map((i: { content: Array<{ text: string }> }) => i.content[0]!.text)).toEqual(["three"]);
    expect((await app.inject(`/v1/responses/${second.id}/input_items?limit=0`)).statusCode).toBe(400);
    expect((await app.inject("/v1/responses/resp_nope/input_items")).statusCode).toBe(404);
  });
});

describe("background responses", () => {
  async function poll(app: App, id: string, until: (status: string) => boolean) {
    for (;;) {
      const body = (await app.inject(`/v1/responses/${id}`)).json();
      if (until(body.status)) return body;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it("answers at once, then GET shows it complete", async () => {
    const { app } = scripted(() => FINAL_ANSWER, { tokenDelayMs: 1 });
    const res = await post(app, { input: "Hi", background: true });
    expect(res.statusCode).toBe(200);
    const queued = res.json();
    expect(queued.background).toBe(true);
    expect(["queued", "in_progress"]).toContain(queued.status);
    expect(queued.output).toEqual([]);
    const done = await poll(app, queued.id, (s) => s === "completed");
    expect(done.output.at(-1).content[0].text).toBe("It is 20 degrees in Paris.");
    expect(done.usage.output_tokens).toBeGreaterThan(0);
  });

  it("POST /v1/responses/{id}/cancel ends it as cancelled", async () => {
    const long = "<|channel|>final<|message|>" + "word ".repeat(2000) + "<|return|>";
    const { app } = scripted(() => long, { tokenDelayMs: 2 });
    const { id } = (await post(app, { input: "Hi", background: true })).json();
    await poll(app, id, (s) => s === "in_progress");
    const cancelled = await app.inject({ method: "POST", url: `/v1/responses/${id}/cancel` });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json().status).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 30));
    expect((await app.inject(`/v1/responses/${id}`)).json().status).toBe("cancelled");
    // Cancelling again changes nothing.
    expect((await app.inject({ method: "POST", url: `/v1/responses/${id}/cancel` })).json().status).toBe(
      "cancelled",
    );
  });

  it("DELETE of a running background response stops it for good", async () => {
    const long = "<|channel|>final<|message|>" + "word ".repeat(2000) + "<|return|>";
    const { app, pool } = scripted(() => long, { tokenDelayMs: 2 });
    const { id } = (await post(app, { input: "Hi", background: true })).json();
    await poll(app, id, (s) => s === "in_progress");
    expect((await app.inject({ method: "DELETE", url: `/v1/responses/${id}` })).statusCode).toBe(200);
    while (pool.models.some((m) => m.scheduler.requestIds().length > 0))
      await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 10));
    expect((await app.inject(`/v1/responses/${id}`)).statusCode).toBe(404);
  });

  it("cancel of a response that is not a background one is a 400; of an unknown one a 404", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    const { id } = (await post(app, { input: "Hi" })).json();
    expect((await app.inject({ method: "POST", url: `/v1/responses/${id}/cancel` })).statusCode).toBe(400);
    expect((await app.inject({ method: "POST", url: "/v1/responses/resp_nope/cancel" })).statusCode).toBe(
      404,
    );
  });

  it("background on a server that stores no responses is a 400", async () => {
    const { app } = scripted(() => FINAL_ANSWER, { config: { responsesStoreSize: 0 } });
    const res = await post(app, { input: "Hi", background: true });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("background");
  });

  it("background with stream or with store: false is a 400", async () => {
    const { app } = scripted(() => FINAL_ANSWER);
    for (const extra of [{ stream: true }, { store: false }]) {
      const res = await post(app, { input: "Hi", background: true, ...extra });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.param).toBe("background");
    }
  });
});
