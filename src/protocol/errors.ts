/** The OpenAI error envelope: `{"error":{"message","type","param","code"}}`. */
export interface ErrorEnvelopeWire {
  error: { message: string; type: string; param: string | null; code: string };
}
