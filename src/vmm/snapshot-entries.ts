/**
 * Which RAM pages a snapshot stores (its INDEX entries before slots are
 * given): shared by the file snapshots (snapshot.ts) and a browser tab's.
 */
import type { VirtMachine } from "../machine/virt-machine.ts";
import { PAGE_DIRTY, PAGE_USED } from "../machine/ram-pages.ts";
import { ENTRY_PARENT, ENTRY_ZERO } from "./snapshot-format.ts";
import { ENTRY_STORE } from "./snapshot-encode.ts";
import { isZeroPage } from "./zero-page.ts";

/** Every page that may be non-zero and is: stored; the rest: zero. */
export function fullEntries(machine: VirtMachine): Uint32Array {
  const pages = machine.bus.pages;
  pages.ensureAll();
  const entries = new Uint32Array(pages.count).fill(ENTRY_ZERO);
  const ram = machine.bus.ram;
  for (let p = 0; p < pages.count; p++) {
    if ((pages.flags[p] & PAGE_USED) !== 0 && !isZeroPage(ram, p)) entries[p] = ENTRY_STORE;
  }
  return entries;
}

/**
 * A diff against the snapshot the machine's RAM was last saved to or
 * restored from: the pages marked dirty since (present, as written pages
 * are); every other page is the parent's.
 */
export function dirtyEntries(machine: VirtMachine): Uint32Array {
  const pages = machine.bus.pages;
  const ram = machine.bus.ram;
  const entries = new Uint32Array(pages.count).fill(ENTRY_PARENT);
  for (let p = 0; p < pages.count; p++) {
    if ((pages.flags[p] & PAGE_DIRTY) !== 0) entries[p] = isZeroPage(ram, p) ? ENTRY_ZERO : ENTRY_STORE;
  }
  return entries;
}
