/**
 * The HTTP side of the daemon: one Fastify app per listener (the Unix
 * socket, whose caller is the trusted owner, and TCP+TLS, where every call
 * but ping and the OpenAPI document needs a bearer token). Routes come from
 * routes.ts; the hooks here authenticate (401, 429 after repeated failures
 * from one address), authorize by the route policy (403), and write every
 * state-changing call to the audit log.
 */
import { dirname, join } from "node:path";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import websocket from "@fastify/websocket";
import type { Logger } from "pino";
import {
  bearerToken, can, isStateChanging, OWNER, routePolicy, type AuditLog, type FailureThrottle, type Principal, type RouteRule, type TokenStore,
} from "../hypervisor/auth/index.ts";
import { VERSION, type Hypervisor } from "../hypervisor/hypervisor.ts";
import { dispatch } from "./dispatch.ts";
import { errorBody, replyError } from "./error-reply.ts";
import { serveConsole } from "./console-ws.ts";
import { serveEvents } from "./events-sse.ts";
import { serveBrowserNic } from "./browser-nic-ws.ts";
import { serveBrowserDrive, serveBrowserSnapshot, serveGuestArtifact } from "./browser-files.ts";
import { openApiDocument } from "./openapi.ts";
import { ROUTES, type RouteDef } from "./routes.ts";
import { createWebConsole } from "./web/web-console.ts";

export interface ApiServices {
  hypervisor: Hypervisor;
  tokens: TokenStore;
  throttle: FailureThrottle;
  audit: AuditLog;
  auditFile: string;
  logger: Logger;
}

export type Transport = { kind: "unix" } | { kind: "tls"; key: string; cert: string };

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    rule?: RouteRule;
  }
}

/** Someone whose token was refused, for the audit log. */
const NOBODY: Principal = Object.freeze({ tokenId: null, name: "unauthenticated", role: "viewer", scope: [] });

export async function buildApi(services: ApiServices, transport: Transport): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.logger.child({ listener: transport.kind }) as FastifyBaseLogger,
    exposeHeadRoutes: false, // the routes are exactly those documented
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true, // event streams and consoles must not hold a shutdown
    ...(transport.kind === "tls" ? { https: { key: transport.key, cert: transport.cert } } : {}),
    // Unknown fields are an error, not silently dropped; query strings are coerced ("force=true").
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  app.decorateRequest("principal", null);
  app.setErrorHandler(replyError);
  app.setNotFoundHandler((request, reply) => void reply.code(404).send(errorBody("not_found", `no route ${request.method} ${request.url.split("?")[0]}`)));
  await app.register(websocket, { options: { maxPayload: 128 * 1024 } }); // a NIC's frame (64 KiB + headers) fits
  // Raw bodies (a tab's drive blocks and snapshots); each such route sets its own limit.
  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  // The web console (issue 13, src/api/web): the browser UI and its cookie sessions, on TLS only.
  const web = transport.kind === "tls"
    ? await createWebConsole<Principal>({
        authenticate: (token) => services.tokens.authenticate(token),
        can,
        tls: true,
        keyFile: join(dirname(services.auditFile), "web-session.key"),
        throttle: services.throttle,
      })
    : null;
  if (web) await web.install(app);

  app.addHook("onRequest", async (request, reply) => {
    const rule = request.routeOptions.config.rule;
    if (rule === undefined) return; // 404
    if (transport.kind === "unix") {
      request.principal = OWNER;
    } else if (rule.permission !== null) {
      const key = request.ip;
      const verdict = services.throttle.check(key);
      if (!verdict.allowed) {
        return reply.code(429).header("retry-after", String(verdict.retryAfterSeconds)).send(errorBody("throttled", `too many failed authentications; retry in ${verdict.retryAfterSeconds} s`));
      }
      const token = bearerToken(request.headers.authorization);
      const principal = token === null ? (web?.resolveSession(request) ?? null) : services.tokens.authenticate(token);
      if (principal === null) {
        services.throttle.failed(key);
        return reply.code(401).header("www-authenticate", "Bearer").send(errorBody("unauthorized", token === null ? "this call needs a bearer token" : "the token is unknown, revoked or expired"));
      }
      services.throttle.succeeded(key);
      request.principal = principal;
    }
    if (rule.permission !== null && rule.vm !== "body" && !allowed(request, rule, (request.params as Record<string, string>).name)) {
      return reply.code(403).send(errorBody("forbidden", `role ${request.principal!.role} (scope ${scopeText(request.principal!)}) lacks ${rule.permission}`));
    }
  });

  // After body validation: rules that name the VM in the body (create, clone's new name).
  app.addHook("preHandler", async (request, reply) => {
    const rule = request.routeOptions.config.rule;
    if (rule === undefined || rule.permission === null || (rule.vm !== "body" && rule.vm !== "path+body")) return;
    const name = (request.body as { name?: string } | undefined)?.name;
    if (!allowed(request, rule, name)) {
      return reply.code(403).send(errorBody("forbidden", `role ${request.principal!.role} (scope ${scopeText(request.principal!)}) lacks ${rule.permission} for ${name}`));
    }
  });

  app.addHook("onResponse", async (request, reply) => {
    if (!isStateChanging(request.method) || request.routeOptions.config.rule === undefined) return;
    await services.audit
      .record({ principal: request.principal ?? NOBODY, method: request.method, path: request.url, status: reply.statusCode, detail: Buffer.isBuffer(request.body) ? { bytes: request.body.length } : request.body })
      .catch((e: Error) => request.log.error({ err: e }, "audit log write failed"));
  });

  for (const def of ROUTES) register(app, services, def);
  return app;
}

function allowed(request: FastifyRequest, rule: RouteRule, vm: string | undefined): boolean {
  const p = request.principal!;
  return rule.vm === "none" ? can(p, rule.permission!) : can(p, rule.permission!, vm);
}

function scopeText(p: Principal): string {
  return p.scope === "*" ? "*" : p.scope.join(",");
}

function register(app: FastifyInstance, services: ApiServices, def: RouteDef): void {
  const rule = routePolicy(def.method, def.path.replace(/\{(\w+)\}/g, "x"))?.rule;
  if (rule === undefined) throw new Error(`route ${def.method} ${def.path} has no permission in ROUTE_POLICY`);
  const url = def.path.replace(/\{(\w+)\}/g, ":$1");
  const schema = Object.fromEntries(Object.entries({ params: def.params, querystring: def.query, body: def.body }).filter(([, v]) => v !== undefined));
  const config = { rule };
  const { hypervisor } = services;
  if (def.special === "console" || def.special === "browser-nic") {
    const what = def.special === "console" ? "the console" : "a NIC";
    app.route({
      method: "GET", url, schema, config,
      handler: (_request, reply) => void reply.code(426).send(errorBody("invalid", `${what} is a WebSocket: send Upgrade: websocket`)),
      wsHandler: (socket, request) => {
        const params = request.params as { name: string; index: number };
        try {
          const vm = hypervisor.supervisor(params.name);
          if (def.special === "console") serveConsole(socket, vm, request.principal!);
          else serveBrowserNic(socket, vm.browserLease((request.query as { lease?: string }).lease), params.index);
        } catch (e) {
          socket.close(1008, (e as Error).message.slice(0, 120));
        }
      },
    });
    return;
  }
  app.route({
    method: def.method, url, schema, config,
    ...(def.rawBodyLimit === undefined ? {} : { bodyLimit: def.rawBodyLimit }),
    handler: async (request, reply) => {
      switch (def.special) {
        case "ping":
          return { ok: true, version: VERSION };
        case "openapi":
          return openApiDocument();
        case "metrics":
          return reply.type("text/plain; version=0.0.4").send(await hypervisor.metrics());
        case "events":
          return serveEvents(request, reply, hypervisor.events, request.principal!);
        case "browser-snapshot":
          return serveBrowserSnapshot(hypervisor, request, reply);
        case "browser-drive":
          return serveBrowserDrive(hypervisor, request, reply);
        case "guest-artifact":
          return serveGuestArtifact(request, reply);
      }
      if (def.rawBodyLimit !== undefined && request.body !== undefined && !Buffer.isBuffer(request.body)) {
        return reply.code(415).send(errorBody("invalid", "the body is bytes: send Content-Type: application/octet-stream"));
      }
      const command = def.command!({ params: request.params as Record<string, string>, query: request.query as Record<string, unknown>, headers: request.headers, body: request.body });
      const result = await dispatch({ hypervisor, tokens: services.tokens, auditFile: services.auditFile }, request.principal!, command);
      reply.code(result.status);
      return result.status === 204 ? reply.send() : reply.send(result.body);
    },
  });
}
