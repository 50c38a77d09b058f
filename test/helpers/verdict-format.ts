/**
 * Test support: a small strict json_schema response format (a yes/no answer and a boolean) that the
 * grammar tests send to our engine and through the gateway to llama-server, and then check the reply
 * against.
 */
export const VERDICT_RESPONSE_FORMAT = {
  type: "json_schema" as const,
  json_schema: {
    name: "verdict",
    strict: true,
    schema: {
      type: "object",
      properties: { answer: { enum: ["yes", "no"] }, sure: { type: "boolean" } },
      required: ["answer", "sure"],
      additionalProperties: false,
    },
  },
};
