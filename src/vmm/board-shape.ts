/**
 * What a board built ahead of its VM (a prewarmed worker's, build.ts
 * buildBoard) must share with that VM's config: the parts of a VirtMachine
 * made before its devices — RAM, harts, firmware kind (the built-in SBI is
 * installed on the harts) and the clock.
 */
import type { VmConfig } from "./config.ts";

export interface BoardShape {
  memory: number;
  harts: number;
  firmware: VmConfig["firmware"]["kind"];
  icount?: number;
}

export function boardShape(config: VmConfig): BoardShape {
  return { memory: config.memory, harts: config.harts, firmware: config.firmware.kind, icount: config.icount };
}

export function sameShape(a: BoardShape, b: BoardShape): boolean {
  return a.memory === b.memory && a.harts === b.harts && a.firmware === b.firmware && a.icount === b.icount;
}
