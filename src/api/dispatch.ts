/**
 * Runs one parsed command for a principal: the hypervisor's commands, plus
 * the ones the API serves itself (tokens, the audit log). Listings and jobs
 * are narrowed to the VMs the principal's scope includes.
 */
import { open } from "node:fs/promises";
import type { Reply } from "../hypervisor/commands.ts";
import { notFound } from "../hypervisor/errors.ts";
import type { Hypervisor } from "../hypervisor/hypervisor.ts";
import type { VmView } from "../hypervisor/model.ts";
import { can, type Principal, type TokenStore } from "../hypervisor/auth/index.ts";
import type { ApiCommand } from "./routes.ts";

export interface DispatchServices {
  hypervisor: Hypervisor;
  tokens: TokenStore;
  auditFile: string;
}

export async function dispatch(s: DispatchServices, principal: Principal, c: ApiCommand): Promise<Reply> {
  switch (c.kind) {
    case "token.list":
      return { status: 200, body: s.tokens.list(principal) };
    case "token.create":
      return { status: 201, body: await s.tokens.create(principal, c.body) };
    case "token.delete":
      await s.tokens.revoke(principal, c.id);
      return { status: 204 };
    case "audit.read":
      return { status: 200, body: await lastLines(s.auditFile, c.limit) };
    case "vm.list": {
      const reply = await s.hypervisor.execute(c);
      return { status: 200, body: (reply.body as VmView[]).filter((vm) => can(principal, "vm.read", vm.name)) };
    }
    case "job.get": {
      const reply = await s.hypervisor.execute(c);
      const vm = (reply.body as { vm?: string }).vm;
      if (vm !== undefined && !can(principal, "vm.read", vm)) throw notFound(`job ${c.id}`);
      return reply;
    }
    default:
      return s.hypervisor.execute(c);
  }
}

/** The last `limit` JSON lines of the audit log (it is read from its last 4 MiB at most). */
async function lastLines(file: string, limit: number): Promise<unknown[]> {
  const handle = await open(file, "r").catch(() => null);
  if (handle === null) return [];
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 4 * 2 ** 20);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    const lines = buffer.subarray(0, bytesRead).toString("utf8").split("\n").filter((l) => l.startsWith("{"));
    return lines.slice(-limit).map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return { unreadable: l.slice(0, 200) };
      }
    });
  } finally {
    await handle.close();
  }
}
