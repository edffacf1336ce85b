/**
 * Reference results from QEMU: a riscv64 Linux program, generated and
 * compiled at test time, runs every case's instruction word with inline asm
 * under qemu-riscv64 and writes f7, x7 and fflags (or ILLEGAL on SIGILL).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACKGROUND_F, BACKGROUND_X7, type FpCase } from "./fpu-cases.ts";

/** The fflags value QEMU results carry when the instruction was illegal (SIGILL). */
export const ILLEGAL = 0x100;

/** One case's QEMU result: the destination registers and fflags (ILLEGAL on SIGILL). */
export interface ReferenceResult {
  f7: bigint;
  x7: bigint;
  fflags: number;
}

const GCC = "riscv64-linux-gnu-gcc";
const QEMU = "qemu-riscv64";

function hex64(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

/** Fails with the Debian packages to install when a tool is missing. */
function requireTool(command: string, packages: string): void {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`${command} not found: install the Debian package(s) ${packages} (apt-get install ${packages})`);
  }
}

/**
 * The harness: a table with one entry per instruction word (the word, then
 * `ret`), and one inline-asm routine that loads every f register plus x6
 * and x7, clears fflags, calls the entry, and stores f7, x7 and fflags.
 */
function harnessSource(words: number[]): string {
  const loads = Array.from({ length: 32 }, (_, i) => `"fld f${i}, ${8 * i}(%0)\\n\\t"`).join("\n    ");
  const clobbers = Array.from({ length: 32 }, (_, i) => `"f${i}"`).join(", ");
  const table = words.map((word) => `  ".word 0x${word.toString(16)}\\n\\tjalr x0, 0(x1)\\n\\t"`).join("\n");
  return `#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Entries are 8 bytes: no compressed instructions. */
__asm__(
  ".pushsection .text\\n\\t"
  ".option push\\n\\t"
  ".option norvc\\n\\t"
  ".balign 8\\n"
  "instruction_table:\\n\\t"
${table}
  ".option pop\\n\\t"
  ".popsection\\n");

static const uint64_t background[32] = {
  ${BACKGROUND_F.map((v) => `0x${hex64(v)}ULL`).join(",\n  ")}
};

static sigjmp_buf on_illegal;

static void sigill_handler(int sig) {
  (void)sig;
  siglongjmp(on_illegal, 1);
}

/* io: f0..f31, x6, x7, fflags (out). */
static void run(unsigned long id, uint64_t *io) {
  __asm__ volatile(
    ${loads}
    "ld x6, 256(%0)\\n\\t"
    "ld x7, 264(%0)\\n\\t"
    "la x29, instruction_table\\n\\t"
    "slli x28, %1, 3\\n\\t"
    "add x29, x29, x28\\n\\t"
    "csrw fflags, zero\\n\\t"
    "jalr x1, 0(x29)\\n\\t"
    "csrr x28, fflags\\n\\t"
    "fsd f7, 56(%0)\\n\\t"
    "sd x7, 264(%0)\\n\\t"
    "sd x28, 272(%0)\\n\\t"
    :
    : "r"(io), "r"(id)
    : "memory", "x1", "x6", "x7", "x28", "x29", ${clobbers});
}

struct case_in {
  uint32_t id, frm;
  uint64_t f6, f2, f3, x6;
};

struct case_out {
  uint64_t f7, x7, fflags; /* fflags = ILLEGAL on SIGILL */
};

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *in = fopen(argv[1], "rb");
  FILE *out = fopen(argv[2], "wb");
  if (!in || !out) return 2;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = sigill_handler;
  action.sa_flags = SA_NODEFER; /* SIGILL stays unblocked after the longjmp */
  sigemptyset(&action.sa_mask);
  sigaction(SIGILL, &action, 0);
  struct case_in c;
  static uint64_t io[35];
  while (fread(&c, sizeof c, 1, in) == 1) {
    memcpy(io, background, sizeof background);
    io[6] = c.f6;
    io[2] = c.f2;
    io[3] = c.f3;
    io[32] = c.x6;
    io[33] = 0x${hex64(BACKGROUND_X7)}ULL;
    io[34] = 0;
    __asm__ volatile("csrw frm, %0" : : "r"((unsigned long)c.frm));
    struct case_out r;
    if (sigsetjmp(on_illegal, 0) == 0) {
      run(c.id, io);
      r.f7 = io[7];
      r.x7 = io[33];
      r.fflags = io[34];
    } else {
      r.f7 = 0;
      r.x7 = 0;
      r.fflags = ${ILLEGAL};
    }
    fwrite(&r, sizeof r, 1, out);
  }
  fclose(out);
  return 0;
}
`;
}

/** Runs the cases on QEMU (binary records in and out) and returns one result per case. */
export function qemuReference(cases: FpCase[]): ReferenceResult[] {
  requireTool(GCC, "gcc-riscv64-linux-gnu libc6-dev-riscv64-cross");
  requireTool(QEMU, "qemu-user");
  const words = [...new Set(cases.map((c) => c.word))];
  const ids = new Map(words.map((word, id) => [word, id]));
  const dir = mkdtempSync(join(tmpdir(), "typevisor-fpu-"));
  try {
    const source = join(dir, "fpu-harness.c");
    const binary = join(dir, "fpu-harness");
    writeFileSync(source, harnessSource(words));
    const compiled = spawnSync(GCC, ["-static", "-O1", "-o", binary, source], { encoding: "utf8" });
    if (compiled.status !== 0) throw new Error(`${GCC} failed on the generated harness:\n${compiled.stderr}`);
    const input = Buffer.alloc(cases.length * 40);
    cases.forEach((c, i) => {
      const at = i * 40;
      input.writeUInt32LE(ids.get(c.word)!, at);
      input.writeUInt32LE(c.frm, at + 4);
      input.writeBigUInt64LE(c.f6, at + 8);
      input.writeBigUInt64LE(c.f2, at + 16);
      input.writeBigUInt64LE(c.f3, at + 24);
      input.writeBigUInt64LE(c.x6, at + 32);
    });
    const inputPath = join(dir, "cases.bin");
    const outputPath = join(dir, "results.bin");
    writeFileSync(inputPath, input);
    const ran = spawnSync(QEMU, [binary, inputPath, outputPath], { encoding: "utf8" });
    if (ran.status !== 0) throw new Error(`${QEMU} ${binary} failed (status ${ran.status}, signal ${ran.signal}):\n${ran.stderr}`);
    const output = readFileSync(outputPath);
    if (output.length !== cases.length * 24) {
      throw new Error(`the QEMU harness wrote ${output.length / 24} results for ${cases.length} cases`);
    }
    return cases.map((_, i) => ({
      f7: output.readBigUInt64LE(i * 24),
      x7: output.readBigUInt64LE(i * 24 + 8),
      fflags: Number(output.readBigUInt64LE(i * 24 + 16)),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
