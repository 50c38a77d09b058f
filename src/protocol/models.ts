/** GET /v1/models wire shape, with a gpt-oss-server extra saying whether the weights are random. */
export interface ModelWire {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** True for the project's random-weight models: their output is noise. */
  random_weights: boolean;
  context_length: number;
}

export interface ModelListWire {
  object: "list";
  data: ModelWire[];
}
