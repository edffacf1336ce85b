// PLACEHOLDER until branch `snap` lands src/vmm/snapshot.ts (interfaces.md §4); replaced at merge.
import type { VirtMachine } from "../machine/virt-machine.ts";
export interface SaveOptions { config: unknown; parent?: string }
export interface SnapshotInfo { bytes: number; ramPages: number; ms: number }
export class SnapshotError extends Error {}
const missing = (): never => { throw new SnapshotError("snapshots are not available yet (branch snap)"); };
export function saveSnapshot(_m: VirtMachine, _path: string, _o: SaveOptions): SnapshotInfo { return missing(); }
export function readSnapshotConfig(_path: string): unknown { return missing(); }
export function restoreSnapshot(_path: string, _m: VirtMachine): void { missing(); }
export interface MachineImage { config: unknown; state: unknown; ram: SharedArrayBuffer }
export function captureImage(_m: VirtMachine, _c: unknown): MachineImage { return missing(); }
export function restoreImage(_i: MachineImage, _m: VirtMachine, _id?: { mac?: string }): void { missing(); }
