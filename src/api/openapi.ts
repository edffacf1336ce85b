/** The OpenAPI 3 document, generated from the route table (routes.ts) and the auth module's route policy. */
import type { TObject, TSchema } from "@sinclair/typebox";
import { routePolicy } from "../hypervisor/auth/index.ts";
import { VERSION } from "../hypervisor/hypervisor.ts";
import { ErrorBody, ROUTES } from "./routes.ts";

/** A TypeBox schema as plain JSON Schema (TypeBox marks its objects with symbols, which JSON drops). */
const plain = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema));

const ERRORS: Record<number, string> = {
  400: "invalid request",
  401: "no or bad token",
  403: "the token's role or scope forbids it",
  404: "no such object",
  409: "conflict with the object's state, or over the host budget",
  429: "too many failed authentications",
};

function parameters(schema: TObject | undefined, where: "path" | "query"): unknown[] {
  if (schema === undefined) return [];
  const props = schema.properties as Record<string, TSchema>;
  const required = new Set(schema.required ?? []);
  return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === "path" || required.has(name), schema: plain(s) }));
}

export function openApiDocument(): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const rule = routePolicy(r.method, r.path.replace(/\{(\w+)\}/g, "x"))?.rule;
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(r.responses)) {
      responses[status] = { description: r.summary, ...(schema === null ? {} : { content: { "application/json": { schema: plain(schema) } } }) };
    }
    for (const [status, description] of Object.entries(ERRORS)) {
      if (rule?.permission === null && (status === "401" || status === "403")) continue;
      responses[status] = { description, content: { "application/json": { schema: plain(ErrorBody) } } };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      "x-permission": rule?.permission ?? null,
      security: rule?.permission === null ? [] : [{ bearer: [] }],
      parameters: [...parameters(r.params, "path"), ...parameters(r.query, "query")],
      ...(r.body === undefined ? {} : { requestBody: { required: true, content: { "application/json": { schema: plain(r.body) } } } }),
      ...(r.rawBodyLimit === undefined ? {} : { requestBody: { required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary", maxLength: r.rawBodyLimit } } } } }),
      responses,
    };
  }
  return {
    openapi: "3.0.3",
    info: { title: "Typevisor", version: VERSION, description: "The hypervisor daemon's API (typevisor serve). On the Unix socket the caller is the owner; over TCP+TLS every call but ping and this document needs a bearer token." },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "tvk_<id>_<secret>" } } },
    paths,
  };
}
