/** A small guest for daemon tests that need many VMs: the interrupt-driven echo program (16 MiB, bare metal, idles in WFI; each byte b comes back as b + 1). */
import { program } from "../cli/programs.ts";

export async function echoVmBody(name: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return { name, memoryMiB: 16, cpus: 1, boot: { kind: "kernel", kernel: await program("echo"), firmware: "none" }, ...extra };
}
