/**
 * Every refusal as `{"error": {code, message}}` with its HTTP status: the
 * hypervisor's and the auth module's errors, schema validation (400), and
 * Fastify's own client errors (bad JSON, wrong content type, body too
 * large). Only a bug answers 500, and it is logged.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { AuthError } from "../hypervisor/auth/index.ts";
import { HypervisorError, type ErrorCode } from "../hypervisor/errors.ts";

const STATUS: Record<ErrorCode, number> = { invalid: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, over_budget: 409, throttled: 429 };

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export function replyError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof HypervisorError) {
    void reply.code(STATUS[error.code]).send(errorBody(error.code, error.message));
  } else if (error instanceof AuthError) {
    void reply.code(error.status).send(errorBody(error.code, error.message));
  } else if ((error as FastifyError).validation !== undefined) {
    const e = error as FastifyError;
    void reply.code(400).send(errorBody("invalid", `${e.validationContext ?? "request"}${e.message.replace(/^(body|params|querystring)/, "")}`));
  } else if (typeof (error as FastifyError).statusCode === "number" && (error as FastifyError).statusCode! >= 400 && (error as FastifyError).statusCode! < 500) {
    void reply.code((error as FastifyError).statusCode!).send(errorBody("invalid", error.message));
  } else {
    request.log.error({ err: error }, "internal error");
    void reply.code(500).send(errorBody("internal", `internal error: ${error.message}`));
  }
}
