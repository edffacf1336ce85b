/**
 * Headers every daemon response carries for browsers. The CSP allows only
 * the daemon's own scripts (no inline script, no eval, no CDN), connections
 * back to the daemon (fetch, EventSource, the console WebSocket) and no
 * framing, so a page elsewhere cannot clickjack the UI. Styles: the
 * daemon's stylesheet, plus <style> elements, because xterm.js writes its
 * theme and cell sizes into one at run time; style attributes stay refused.
 * (Our code never builds HTML from strings, so there is no markup to inject.)
 * A VM running in a tab (issue 14) needs WebAssembly compiled from bytes
 * ('wasm-unsafe-eval': no JavaScript eval) and the daemon's own worker
 * script; its NIC WebSockets are same-origin, which connect-src 'self' allows.
 */
import type { FastifyReply } from "fastify";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "style-src-elem 'self' 'unsafe-inline'",
  "style-src-attr 'none'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export function setSecurityHeaders(reply: FastifyReply, tls: boolean): void {
  reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
  reply.header("x-content-type-options", "nosniff");
  reply.header("x-frame-options", "DENY");
  reply.header("referrer-policy", "no-referrer");
  reply.header("cross-origin-opener-policy", "same-origin");
  reply.header("cross-origin-resource-policy", "same-origin");
  if (tls) reply.header("strict-transport-security", "max-age=31536000");
}
