/**
 * The JIT switch: TYPEVISOR_JIT = off (default) | on | force, and
 * TYPEVISOR_JIT_THRESHOLD = instructions a page runs interpreted before it
 * is translated (default 200000 with `on`; `force` is threshold 0: every page
 * the moment it runs, as v86's force-JIT tests). `typevisor run/exec --jit
 * on|off|force` set the variable for the VM they start (its worker inherits it).
 */
export type JitMode = "off" | "on" | "force";

export interface JitConfig {
  mode: JitMode;
  threshold: number;
}

export const DEFAULT_THRESHOLD = 200000;

export function parseJitMode(value: string | undefined): JitMode {
  const v = (value ?? "off").trim().toLowerCase();
  if (v === "" || v === "off" || v === "0") return "off";
  if (v === "on" || v === "1") return "on";
  if (v === "force") return "force";
  throw new Error(`TYPEVISOR_JIT must be off, on or force, not "${value}"`);
}

/** Variables as Node's process.env has them; a browser worker has none (the JIT is off there). */
export type JitEnv = Record<string, string | undefined>;

const processEnv: JitEnv = (globalThis as { process?: { env: JitEnv } }).process?.env ?? {};

/** The configuration from the environment (read when a hart is made). */
export function jitConfig(env: JitEnv = processEnv): JitConfig {
  const mode = parseJitMode(env.TYPEVISOR_JIT);
  const raw = env.TYPEVISOR_JIT_THRESHOLD;
  let threshold = mode === "force" ? 0 : DEFAULT_THRESHOLD;
  if (raw !== undefined && raw !== "") {
    threshold = Number(raw);
    if (!Number.isInteger(threshold) || threshold < 0) throw new Error(`TYPEVISOR_JIT_THRESHOLD must be a whole number, not "${raw}"`);
  }
  return { mode, threshold };
}
