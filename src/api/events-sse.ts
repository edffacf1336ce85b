/**
 * GET /v1/events: server-sent events, one `data:` line of JSON per event,
 * only for VMs the principal may read (events without a VM — images,
 * networks — go to anyone with vm.read on all VMs). A comment line every
 * 15 s keeps proxies from closing an idle stream.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { can, type Principal } from "../hypervisor/auth/index.ts";
import type { EventBus } from "../hypervisor/events.ts";

const HEARTBEAT_MS = 15_000;

export function serveEvents(request: FastifyRequest, reply: FastifyReply, events: EventBus, principal: Principal): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  res.write(": typevisor events\n\n");
  const unsubscribe = events.subscribe((event) => {
    const visible = event.vm === undefined ? principal.scope === "*" : can(principal, "vm.read", event.vm);
    if (visible) res.write(`data: ${JSON.stringify(event)}\n\n`);
  });
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
  request.raw.on("close", () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
}
