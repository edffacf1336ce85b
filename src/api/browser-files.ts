/**
 * The byte-serving routes of a VM in a browser tab and of the default
 * guest: the lease snapshot and the drives (as the guest sees them) for the
 * tab that holds the lease, and the default guest's files for a tab that
 * boots one. All with Range (byte-ranges.ts).
 */
import { createReadStream, statSync } from "node:fs";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Hypervisor } from "../hypervisor/hypervisor.ts";
import { defaultGuestFile, type DefaultGuestArtifact } from "../hypervisor/browser/tab-views.ts";
import { chunkedStream, sendRange } from "./byte-ranges.ts";

type Params = { name: string; index?: number; artifact?: DefaultGuestArtifact };

function leaseHeader(request: FastifyRequest): string | undefined {
  const h = request.headers["x-typevisor-lease"];
  return typeof h === "string" ? h : undefined;
}

function sendFile(request: FastifyRequest, reply: FastifyReply, path: string): FastifyReply {
  return sendRange(request, reply, { size: statSync(path).size, stream: (start, end) => createReadStream(path, { start, end }) });
}

export function serveBrowserSnapshot(hypervisor: Hypervisor, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { name } = request.params as Params;
  const lease = hypervisor.supervisor(name).browserLease(leaseHeader(request));
  return sendFile(request, reply, lease.record.snapshotFile);
}

export function serveBrowserDrive(hypervisor: Hypervisor, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { name, index } = request.params as Params;
  const drive = hypervisor.supervisor(name).browserLease(leaseHeader(request)).drive(index!);
  return sendRange(request, reply, { size: drive.sizeBytes, stream: (start, end) => chunkedStream((at, n) => drive.read(at, n), start, end) });
}

export async function serveGuestArtifact(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { artifact } = request.params as Params;
  return sendFile(request, reply, await defaultGuestFile(artifact!));
}
