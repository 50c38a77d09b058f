/** POST /tokenize and POST /detokenize (vLLM's shapes; serving/tokenize.ts). */
import type { FastifyInstance } from "fastify";
import { detokenize, tokenize } from "../../serving/tokenize.ts";
import type { RouteDeps } from "../app.ts";

export function registerTokenizeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.post("/tokenize", async (req) => tokenize(deps, req.body));
  app.post("/detokenize", (req, reply) => reply.send(detokenize(deps, req.body)));
}
