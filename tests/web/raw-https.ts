/** Raw HTTPS calls for the web tests: any headers (cookies, Origin, CSRF), self-signed certificates accepted. */
import { request } from "node:https";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function call(origin: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, origin), {
      method,
      rejectUnauthorized: false,
      headers: { ...(body ? { "content-type": "application/json" } : {}), ...opts.headers },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A WebSocket upgrade request; resolves with the status the server answered
 * (101 = upgraded), or 0 when it closed the connection with no answer:
 * @fastify/websocket destroys a refused upgrade's socket as soon as the
 * reply is handed over, and over TLS the 403 sometimes does not get out.
 */
export function upgradeStatus(origin: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, origin), {
      rejectUnauthorized: false,
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? resolve(0) : reject(e)));
    req.end();
  });
}

/** A refused upgrade: 403, or the connection closed before the 403 got out. */
export const REFUSED_UPGRADE = [403, 0];

/** Signs in over raw HTTPS; the session cookie ("tv_session=…") and its CSRF value. */
export async function rawSignIn(origin: string, token: string): Promise<{ cookie: string; csrf: string; reply: Reply }> {
  const reply = await call(origin, "POST", "/v1/session", { body: { token }, headers: { origin } });
  if (reply.status !== 201) throw new Error(`sign-in: ${reply.status} ${reply.body}`);
  const cookie = String(([] as string[]).concat(reply.headers["set-cookie"] ?? [])[0]).split(";")[0];
  return { cookie, csrf: JSON.parse(reply.body).csrf, reply };
}
