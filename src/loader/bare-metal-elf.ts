/**
 * Loads a bare-metal ELF (firmware, test programs, `--bios none` kernels)
 * into guest RAM: every PT_LOAD segment at its physical address p_paddr,
 * with the part beyond p_filesz zeroed.
 */
import type { Bus } from "../machine/bus.ts";
import { EM_RISCV, loadSegments, parseElf, segmentBytes } from "./elf.ts";
import { LoadError } from "./load-error.ts";

export interface LoadedImage {
  /** Where execution starts. */
  entry: number;
  /** Lowest and one past the highest guest-physical address written. */
  start: number;
  end: number;
}

/** Loads ELF `bytes` (named `name` in errors); throws ElfError or LoadError. */
export function loadBareMetalElf(bus: Bus, bytes: Uint8Array, name: string): LoadedImage {
  const elf = parseElf(bytes, { machine: EM_RISCV, name });
  const segments = loadSegments(elf).filter((ph) => ph.memsz > 0);
  if (segments.length === 0) throw new LoadError(`${name}: no loadable segments`);
  let start = Infinity;
  let end = 0;
  for (const ph of segments) {
    const index = elf.programHeaders.indexOf(ph);
    const off = bus.ramOffset(ph.paddr, ph.memsz);
    if (off < 0) {
      throw new LoadError(
        `${name}: segment ${index} (0x${ph.paddr.toString(16)}, ${ph.memsz} bytes) lies outside RAM ` +
          `0x${bus.ramBase.toString(16)}-0x${(bus.ramBase + bus.ramSize - 1).toString(16)}`,
      );
    }
    bus.ram.set(segmentBytes(elf, ph), off);
    bus.ram.fill(0, off + ph.filesz, off + ph.memsz);
    bus.ramWritten(off, ph.memsz);
    start = Math.min(start, ph.paddr);
    end = Math.max(end, ph.paddr + ph.memsz);
  }
  return { entry: elf.header.entry, start, end };
}
