/** Bare-metal programs for the snapshot tests, compiled at test time (tests/support/toolchain.ts). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { buildElf, REPO_ROOT } from "../support/toolchain.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/** The exactness workload (programs/exact.c) as ELF bytes. */
export async function exactProgram(): Promise<Uint8Array> {
  const elf = await buildElf({
    sources: [join(REPO_ROOT, "bench/baremetal/crt0.S"), join(HERE, "programs/exact.c")],
    includeDirs: [join(REPO_ROOT, "bench/baremetal"), join(HERE, "programs")],
    flags: ["-O2"],
  });
  return readFileSync(elf);
}
