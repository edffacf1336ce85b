/**
 * The web console's server side, installed into the daemon's fastify app:
 * serves the bundled UI, signs a browser in with an API token (POST
 * /v1/session → an HttpOnly SameSite=Strict cookie), and guards requests
 * that the cookie authenticates: state changes need the session's CSRF
 * header, WebSocket upgrades a same-origin Origin. The daemon's auth hook
 * calls resolveSession() when a request has no bearer header; the cookie
 * then stands for the same Principal as the token it was made from.
 */
import cookiePlugin from "@fastify/cookie";
import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SessionSeal, type SessionContents } from "./session-seal.ts";
import { setSecurityHeaders } from "./security-headers.ts";
import { uiAssets } from "./ui-bundle.ts";

/** What the console needs of the auth module's Principal. */
export interface ConsolePrincipal {
  name: string;
  role: string;
  scope: "*" | readonly string[];
}

export interface WebConsoleOptions<P extends ConsolePrincipal> {
  /** The bearer-token check the API uses: the token's Principal, or null. */
  authenticate(token: string): P | null;
  /** The auth module's permission check. */
  can(principal: P, permission: string, vmName?: string): boolean;
  /** True when the listener is TLS: cookies get `Secure`, responses HSTS. */
  tls: boolean;
  /** Where the cookie-sealing key lives (e.g. <data-dir>/web-session.key); none = per process. */
  keyFile?: string;
  /** Throttle of failed sign-ins per address (the API's FailureThrottle). */
  throttle?: {
    check(key: string): { allowed: boolean; retryAfterSeconds: number };
    failed(key: string): void;
    succeeded(key: string): void;
  };
  sessionHours?: number;
}

export interface WebConsole<P extends ConsolePrincipal> {
  /** Registers the routes and the root hooks; call before the API's routes. */
  install(app: FastifyInstance): Promise<void>;
  /** The Principal of a cookie-authenticated request, or null. */
  resolveSession(request: FastifyRequest): P | null;
}

export const SESSION_COOKIE = "tv_session";
export const CSRF_HEADER = "x-typevisor-csrf";

/** Permissions the UI shows or hides controls by. */
const UI_PERMISSIONS = [
  "vm.read", "vm.create", "vm.update", "vm.delete", "vm.power", "vm.snapshot", "vm.clone",
  "vm.console", "vm.console.write", "vm.move", "image.read", "net.read", "host.read",
] as const;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function apiError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type("application/json").send({ error: { code, message } });
}

export async function createWebConsole<P extends ConsolePrincipal>(options: WebConsoleOptions<P>): Promise<WebConsole<P>> {
  const seal = options.keyFile ? await SessionSeal.fromKeyFile(options.keyFile) : SessionSeal.ephemeral();
  const sessionMs = (options.sessionHours ?? 12) * 3600_000;
  // Signed-out sessions until they would have expired (the cookie is gone from
  // that browser already; this stops a copied one).
  const signedOut = new Map<string, number>();

  function sessionOf(request: FastifyRequest): SessionContents | null {
    const cookie = request.cookies?.[SESSION_COOKIE];
    if (!cookie) return null;
    const session = seal.open(cookie);
    if (!session) return null;
    const until = signedOut.get(session.sid);
    return until !== undefined && until > Date.now() ? null : session;
  }

  function sameOrigin(request: FastifyRequest): boolean {
    return request.headers.origin === `${request.protocol}://${request.headers.host}`;
  }

  /** Why a cookie-authenticated request must be refused, or null when it may go on. */
  function cookieRequestProblem(request: FastifyRequest, session: SessionContents): string | null {
    if (request.headers.upgrade?.toLowerCase() === "websocket") {
      return sameOrigin(request) ? null : "A console WebSocket opened with a session cookie must come from the console's own origin.";
    }
    if (SAFE_METHODS.has(request.method)) return null;
    if (request.headers.origin !== undefined && !sameOrigin(request)) return "Cross-origin requests cannot use the session cookie.";
    if (!seal.csrfMatches(session.sid, request.headers[CSRF_HEADER] as string | undefined)) {
      return `A change made with the session cookie needs the ${CSRF_HEADER} header from GET /v1/session.`;
    }
    return null;
  }

  function resolveSession(request: FastifyRequest): P | null {
    if (request.headers.authorization) return null; // a bearer header speaks for itself
    const session = sessionOf(request);
    if (!session || cookieRequestProblem(request, session)) return null;
    return options.authenticate(session.token);
  }

  function sessionView(principal: P, session: SessionContents) {
    const vmSample = principal.scope === "*" ? undefined : principal.scope[0];
    return {
      name: principal.name,
      role: principal.role,
      scope: principal.scope,
      csrf: seal.csrfFor(session.sid),
      expiresAt: new Date(session.exp).toISOString(),
      // Host-wide rights, and rights on the VMs in scope (the UI checks the scope itself).
      permissions: UI_PERMISSIONS.filter((p) => options.can(principal, p)),
      vmPermissions: vmSample === undefined && principal.scope !== "*"
        ? []
        : UI_PERMISSIONS.filter((p) => p.startsWith("vm.") && options.can(principal, p, vmSample)),
    };
  }

  async function install(app: FastifyInstance): Promise<void> {
    if (!app.hasRequestDecorator("cookies")) await app.register(cookiePlugin);

    app.addHook("onRequest", async (request, reply) => {
      setSecurityHeaders(reply, options.tls);
      if (request.headers.authorization) return;
      const session = sessionOf(request);
      if (!session) return;
      const problem = cookieRequestProblem(request, session);
      if (problem) return apiError(reply, 403, "forbidden", problem);
    });

    app.post<{ Body: { token: string } }>("/v1/session", {
      schema: {
        body: {
          type: "object",
          required: ["token"],
          additionalProperties: false,
          properties: { token: { type: "string", minLength: 1, maxLength: 512 } },
        },
      },
    }, async (request, reply) => {
      // A sign-in form on another site must not sign this browser in (login CSRF).
      if (request.headers.origin !== undefined && !sameOrigin(request)) {
        return apiError(reply, 403, "forbidden", "Sign in from the console's own page.");
      }
      const key = request.ip; // the same count as the API's bearer failures from this address
      const gate = options.throttle?.check(key);
      if (gate && !gate.allowed) {
        reply.header("retry-after", String(gate.retryAfterSeconds));
        return apiError(reply, 429, "throttled", `Too many failed sign-ins; try again in ${gate.retryAfterSeconds} s.`);
      }
      const principal = options.authenticate(request.body.token.trim());
      if (!principal) {
        options.throttle?.failed(key);
        return apiError(reply, 401, "unauthorized", "That token is not valid (unknown, revoked or expired).");
      }
      options.throttle?.succeeded(key);
      const session: SessionContents = { sid: randomBytes(16).toString("base64url"), token: request.body.token.trim(), exp: Date.now() + sessionMs };
      reply.setCookie(SESSION_COOKIE, seal.seal(session), {
        httpOnly: true,
        sameSite: "strict",
        secure: options.tls,
        path: "/",
        expires: new Date(session.exp),
      });
      return reply.code(201).send(sessionView(principal, session));
    });

    app.get("/v1/session", async (request, reply) => {
      const session = sessionOf(request);
      const principal = session && options.authenticate(session.token);
      if (!session || !principal) return apiError(reply, 401, "unauthorized", "Not signed in.");
      return sessionView(principal, session);
    });

    app.delete("/v1/session", async (request, reply) => {
      const session = sessionOf(request);
      if (session) {
        signedOut.set(session.sid, session.exp);
        for (const [sid, until] of signedOut) if (until <= Date.now()) signedOut.delete(sid);
      }
      reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "strict", secure: options.tls });
      return reply.code(204).send();
    });

    const serveAsset = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split("?")[0];
      const asset = (await uiAssets()).get(path);
      if (!asset) return apiError(reply, 404, "not_found", `No console file ${path}.`);
      reply.header("etag", asset.etag).header("cache-control", "no-cache");
      if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
      return reply.type(asset.contentType).send(asset.body);
    };
    app.get("/", serveAsset);
    app.get("/tab", serveAsset); // the default guest in a tab (issue 14)
    app.get("/ui/*", serveAsset);
  }

  return { install, resolveSession };
}
