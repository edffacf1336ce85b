/**
 * Builds bare-metal riscv64 programs (assembly or C) at test time.
 *
 * Outputs are cached in a temp directory, keyed by a hash of everything that
 * affects the result (sources, headers, link script, flags, compiler
 * version), so re-running a suite does not recompile unchanged programs and
 * no binary ever lives in the repository.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const SUPPORT_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(SUPPORT_DIR, "../..");
export const LINK_SCRIPT = join(SUPPORT_DIR, "link.ld");

export const CROSS_PREFIX = "riscv64-linux-gnu-";
export const GCC = `${CROSS_PREFIX}gcc`;
export const OBJDUMP = `${CROSS_PREFIX}objdump`;
export const NM = `${CROSS_PREFIX}nm`;
export const OBJCOPY = `${CROSS_PREFIX}objcopy`;

export const BASE_FLAGS = [
  "-march=rv64gc_zba_zbb_zbs",
  "-mabi=lp64d",
  "-mcmodel=medany",
  "-fno-pic",
  "-no-pie",
  "-nostdlib",
  "-nostartfiles",
  "-static",
  "-ffreestanding",
  "-Wl,--build-id=none",
  "-Wl,--no-warn-rwx-segments",
];

/** Where compiled programs are cached (override with TYPEVISOR_TEST_CACHE). */
export const CACHE_DIR = process.env.TYPEVISOR_TEST_CACHE ?? join(tmpdir(), "typevisor-test-build");

/** A source given as text (generated programs) rather than as a file. */
export interface SourceText {
  /** File name; its extension (.S or .c) tells gcc the language. */
  name: string;
  text: string;
}

export interface BuildRequest {
  /** Source files (paths) and/or generated sources. */
  sources: (string | SourceText)[];
  /** Directories searched for #include; their files are part of the cache key. */
  includeDirs?: string[];
  /** Extra gcc flags (e.g. -O2). */
  flags?: string[];
  /** Link script; defaults to tests/support/link.ld. */
  linkScript?: string;
}

let compilerVersion: Promise<string> | null = null;

/** Fails with the Debian package to install when the cross compiler is missing. */
export function requireCrossCompiler(): Promise<string> {
  compilerVersion ??= run(GCC, ["--version"]).then(
    (r) => r.stdout.split("\n")[0] ?? "",
    () => {
      throw new Error(
        `${GCC} not found: install the Debian package gcc-riscv64-linux-gnu ` +
          "(apt-get install gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu)",
      );
    },
  );
  return compilerVersion;
}

function hashInputs(req: BuildRequest, version: string, linkScript: string): string {
  const h = createHash("sha256");
  h.update(version);
  h.update("\0" + BASE_FLAGS.join(" ") + "\0" + (req.flags ?? []).join(" "));
  h.update("\0" + readFileSync(linkScript));
  for (const s of req.sources) {
    // The whole path: debug info names it, and a debugger test reads the source through it.
    if (typeof s === "string") h.update("\0file " + resolve(s) + "\0" + readFileSync(s));
    else h.update("\0text " + s.name + "\0" + s.text);
  }
  for (const dir of req.includeDirs ?? []) {
    for (const f of readdirSync(dir).sort()) {
      if (!/\.(h|inc)$/.test(f)) continue;
      const p = join(dir, f);
      if (statSync(p).isFile()) h.update("\0inc " + f + "\0" + readFileSync(p));
    }
  }
  return h.digest("hex").slice(0, 24);
}

function nameOf(s: string | SourceText): string {
  return typeof s === "string" ? basename(s) : s.name;
}

/** Compiles and links; returns the path of the (cached) ELF. */
export async function buildElf(req: BuildRequest): Promise<string> {
  const version = await requireCrossCompiler();
  const linkScript = req.linkScript ?? LINK_SCRIPT;
  const key = hashInputs(req, version, linkScript);
  const stem = nameOf(req.sources[0]!).replace(/\.[^.]+$/, "");
  const out = join(CACHE_DIR, `${stem}-${key}.elf`);
  if (existsSync(out)) return out;

  const work = join(CACHE_DIR, `work-${key}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const files = req.sources.map((s) => {
    if (typeof s === "string") return resolve(s);
    const p = join(work, s.name);
    writeFileSync(p, s.text);
    return p;
  });
  const tmpOut = join(work, "out.elf");
  const args = [
    ...BASE_FLAGS,
    ...(req.flags ?? []),
    ...(req.includeDirs ?? []).flatMap((d) => ["-I", d]),
    "-T",
    linkScript,
    ...files,
    "-o",
    tmpOut,
  ];
  try {
    await run(GCC, args, { maxBuffer: 64 << 20 });
    renameSync(tmpOut, out); // atomic: parallel test files may build the same program
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`compiling ${req.sources.map(nameOf).join(" ")} failed:\n${err.stderr ?? err.message}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/** Disassembles [start, end) of an ELF (for failure reports). */
export async function disassemble(elf: string, start?: bigint, end?: bigint): Promise<string> {
  const args = ["-d", "-M", "no-aliases,numeric"];
  if (start !== undefined) args.push(`--start-address=0x${start.toString(16)}`);
  if (end !== undefined) args.push(`--stop-address=0x${end.toString(16)}`);
  args.push(elf);
  const r = await run(OBJDUMP, args, { maxBuffer: 64 << 20 });
  return r.stdout;
}

/** Symbol table of an ELF: name → address. */
export async function symbols(elf: string): Promise<Map<string, bigint>> {
  const r = await run(NM, [elf], { maxBuffer: 64 << 20 });
  const map = new Map<string, bigint>();
  for (const line of r.stdout.split("\n")) {
    const m = /^([0-9a-f]+) \w (\S+)$/.exec(line);
    if (m) map.set(m[2]!, BigInt("0x" + m[1]));
  }
  return map;
}

/** The ELF's loadable bytes as a raw binary (objcopy -O binary), cached beside it. */
export async function rawBinary(elf: string): Promise<string> {
  const out = elf.replace(/\.elf$/, ".bin");
  if (existsSync(out)) return out;
  const tmpOut = `${out}.${process.pid}`;
  await run(OBJCOPY, ["-O", "binary", elf, tmpOut]);
  renameSync(tmpOut, out);
  return out;
}
