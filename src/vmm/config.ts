// PLACEHOLDER until branch `cli` lands src/vmm/config.ts (interfaces.md §1); replaced at merge.
export interface VmConfig {
  name?: string;
  memory: number;
  harts: number;
  firmware: { kind: "builtin" } | { kind: "none" } | { kind: "file"; path: string };
  kernel?: string;
  initrd?: string;
  append?: string;
  drives: DriveConfig[];
  nics: NicConfig[];
  rng: boolean;
  icount?: number;
}
export interface DriveConfig { file: string; format: "raw"; readonly: boolean; serial?: string; snapshot: boolean }
export interface NicConfig { backend: "null" | "loopback"; mac?: string }
export class ConfigError extends Error {}
export function validateVmConfig(input: unknown): VmConfig {
  const c = input as VmConfig;
  if (typeof c !== "object" || c === null || typeof c.memory !== "number") throw new ConfigError("memory: expected a number of bytes");
  return { ...c };
}
