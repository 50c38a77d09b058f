/** A profile as /profiles and /health report it: v4.5.1's snake_case field names. */
export interface ProfileConfigWire {
  model: "20b" | "120b";
  gpu_mode: "pipeline" | "tensor";
  max_batch_size: number;
  prefill_window_ms: number;
  decode_window_ms: number;
  max_new_tokens: number;
  temperature: number;
  timeout_ms: number;
  priority: number;
}

/** /health's config.current_profile: the profile's name and description beside its fields. */
export interface ProfileWire extends ProfileConfigWire {
  name: string;
  description: string;
}
