/**
 * The JIT's code cache: one translation per decode-cache slot (a physical
 * page of code), made once the page has run `threshold` instructions in the
 * interpreter. When the slot loses its page (a write to the page, or the slot
 * going to another page) the translation is parked under the RAM page with a
 * copy of the bytes it was made from; when the page runs again it is taken
 * back if those bytes are unchanged (code sharing a page with data it writes
 * is not translated again and again), else dropped. Shared by a VM's harts.
 * docs/jit.md.
 */
import { JIT_EXIT } from "../cpu/hart-state.ts";
import { DECODE_CACHE_BASE, HART_STATE_SIZE, RAM_OFFSET } from "../cpu/layout.ts";
import type { DecodeCache } from "../cpu/decode-cache.ts";
import { EXIT_STEP, translatePage } from "./translate.ts";

type RunFn = (entry: number, left: number, st: number, tlb: number) => number;

/** What translated code asks of the hart whose state is at `st` (docs/jit.md, "Slow paths"). */
export interface JitHart {
  /** A TLB miss: walk and fill the entry for this access; 1 when walked, 0 to leave the access to the interpreter. */
  fillDataTlb(lo: number, hi: number, size: number, write: number): number;
  /** An F/D computational instruction: 0 done, else nothing changed (the interpreter runs it). */
  fpOp(insn: number): number;
}

/** log2 of a decode-cache slot's words (2048 entries × 4 words). */
const SLOT_SHIFT = 13;
const DC_WORD_BASE = DECODE_CACHE_BASE / 4;
const SLOTS = 256;
/** A page translated again this often for entries it missed stops recording them. */
const MAX_RETRANSLATIONS = 16;
/**
 * Every STEP_SAMPLE exits to the interpreter, a translation that ran fewer
 * than STEP_RATIO instructions per exit is left to the interpreter (each
 * exit costs a call and the registers' round trip through memory).
 */
const STEP_SAMPLE = 1024;
const STEP_RATIO = 8;
/** Instructions such a page then runs interpreted before the translation is tried again. */
const STEP_RETRY = 1 << 20;
/** Parked translations kept (the oldest goes first): the code cache's bound beyond the slots. */
const MAX_PARKED = 1024;

interface Compiled {
  fn: RunFn;
  need: Int16Array;
  pre: Int16Array;
  /** The page's bytes when translated, and the spans of them the code depends on. */
  copy: Uint8Array;
  spans: Int32Array;
  /** Entries found missing so far (translated in). */
  entries: number[];
  retranslations: number;
  /** Exits to the interpreter for one instruction, and instructions run, since the last look. */
  steps: number;
  ran: number;
  /** Stepped so often that the interpreter alone is faster (FP loops): left to it for STEP_RETRY instructions. */
  interpret: boolean;
}

export interface JitStats {
  translations: number;
  /** Milliseconds spent translating and compiling. */
  compileMs: number;
  wasmBytes: number;
  instructionsTranslated: number;
  /** Instructions the translations executed, and their calls. */
  executed: number;
  calls: number;
  /** Translations left to the interpreter for stepping too often. */
  leftToInterpreter: number;
  /** Parked translations taken back unchanged. */
  reused: number;
  /** Translations dropped: their code was written, or evicted from the parking. */
  dropped: number;
}

export class Jit {
  private readonly slots: (Compiled | null)[] = new Array<Compiled | null>(SLOTS).fill(null);
  /** Instructions each slot's page has run in the interpreter since it got the slot. */
  private readonly hot = new Int32Array(SLOTS);
  private readonly parked = new Map<number, Compiled>();
  /**
   * Entries a slot's page missed, kept for its next translation once the
   * page is hot again (else each translation would miss them again).
   */
  private readonly missed: ({ entries: number[]; retranslations: number } | null)[] = new Array(SLOTS).fill(null);
  private readonly m8: Uint8Array;
  private readonly m16: Uint16Array;
  private readonly dc: Int32Array;
  /** The harts by state offset / HART_STATE_SIZE, and the imports every translation shares. */
  private readonly harts: JitHart[] = [];
  private readonly imports: WebAssembly.Imports;
  /** Why the last run() returned (translate.ts EXIT_*). */
  exit = 0;
  readonly stats: JitStats = { translations: 0, compileMs: 0, wasmBytes: 0, instructionsTranslated: 0, executed: 0, calls: 0, leftToInterpreter: 0, reused: 0, dropped: 0 };

  constructor(
    memory: WebAssembly.Memory,
    cache: DecodeCache,
    readonly threshold: number,
  ) {
    this.m8 = new Uint8Array(memory.buffer);
    this.m16 = new Uint16Array(memory.buffer);
    this.dc = new Int32Array(memory.buffer);
    cache.onRelease = (slot, page) => this.park(slot, page);
    const harts = this.harts;
    this.imports = {
      env: {
        mem: memory,
        fill: (st: number, lo: number, hi: number, size: number, write: number) => harts[st / HART_STATE_SIZE].fillDataTlb(lo, hi, size, write),
        fp: (st: number, insn: number) => harts[st / HART_STATE_SIZE].fpOp(insn),
      },
    };
  }

  /** Registers a hart of the VM, whose state is at memory offset `st`. */
  attach(st: number, hart: JitHart): void {
    this.harts[st / HART_STATE_SIZE] = hart;
  }

  /**
   * Runs the translation of the fetch page (decode-cache entries at word
   * `fDec`, page bytes at memory offset `fHost`) from page offset `off`.
   * Returns the instructions it executed, with `exit` saying why it stopped;
   * or -1 when there is no translation to run (not hot yet, not an entry,
   * budget `left` too small): the interpreter goes on.
   */
  run(w: Int32Array, fDec: number, fHost: number, off: number, left: number, st: number, tlb: number): number {
    if ((off >>> 0) >= 4096) return -1;
    const slot = (fDec - DC_WORD_BASE) >> SLOT_SHIFT;
    let c = this.slots[slot];
    if (c === null) {
      c = this.unpark(slot, fHost);
      if (c === null) {
        if (this.hot[slot] < this.threshold) return -1;
        const missed = this.missed[slot];
        c = this.translate(slot, fDec, fHost, missed?.entries ?? [], missed?.retranslations ?? 0);
      }
    }
    if (c.interpret) {
      if (this.hot[slot] < STEP_RETRY) return -1;
      c.interpret = false;
    }
    const need = c.need[off >> 1];
    if (need <= 0) {
      if (need === 0) {
        this.exit = EXIT_STEP;
        if (++c.steps >= STEP_SAMPLE) this.sample(c, slot);
        return 0;
      }
      this.miss(slot, c, off, fDec, fHost);
      return -1;
    }
    if (need > left) return -1;
    const pre = c.pre[off >> 1];
    const n = c.fn(off >> 1, left - pre, st, tlb) + pre;
    this.exit = w[JIT_EXIT];
    const s = this.stats;
    s.executed += n;
    s.calls++;
    c.ran += n;
    if (this.exit === EXIT_STEP && ++c.steps >= STEP_SAMPLE) this.sample(c, slot);
    return n;
  }

  private sample(c: Compiled, slot: number): void {
    if (c.ran < c.steps * STEP_RATIO) {
      c.interpret = true;
      this.hot[slot] = 0;
      this.stats.leftToInterpreter++;
    }
    c.steps = 0;
    c.ran = 0;
  }

  /** The interpreter ran `n` instructions of the page at `fDec`. */
  count(fDec: number, n: number): void {
    this.hot[(fDec - DC_WORD_BASE) >> SLOT_SHIFT] += n;
  }

  private translate(slot: number, fDec: number, fHost: number, entries: number[], retranslations: number): Compiled {
    const started = performance.now();
    const t = translatePage(this.dc, this.m16, fDec, fHost, entries);
    const module = new WebAssembly.Module(t.bytes);
    const fn = new WebAssembly.Instance(module, this.imports).exports.run as RunFn;
    const s = this.stats;
    s.translations++;
    s.compileMs += performance.now() - started;
    s.wasmBytes += t.bytes.length;
    s.instructionsTranslated += t.translated;
    const copy = this.m8.slice(fHost, fHost + 4096);
    const c: Compiled = { fn, need: t.need, pre: t.pre, copy, spans: t.spans, entries, retranslations, steps: 0, ran: 0, interpret: false };
    this.slots[slot] = c;
    return c;
  }

  /**
   * A pc the translation does not cover (code reached only from another
   * page): translate again with it, now when forced, else once the page is
   * hot again.
   */
  private miss(slot: number, c: Compiled, off: number, fDec: number, fHost: number): void {
    if (c.retranslations >= MAX_RETRANSLATIONS) return;
    const entries = [...c.entries, off];
    this.slots[slot] = null;
    this.hot[slot] = 0;
    this.stats.dropped++;
    if (this.threshold === 0) this.translate(slot, fDec, fHost, entries, c.retranslations + 1);
    else this.missed[slot] = { entries, retranslations: c.retranslations + 1 };
  }

  private park(slot: number, page: number): void {
    const c = this.slots[slot];
    this.slots[slot] = null;
    this.hot[slot] = 0;
    this.missed[slot] = null;
    if (c === null) return;
    this.parked.delete(page);
    this.parked.set(page, c);
    if (this.parked.size > MAX_PARKED) {
      this.parked.delete(this.parked.keys().next().value!);
      this.stats.dropped++;
    }
  }

  /** The fetch page's parked translation if the bytes it was made from are unchanged. */
  private unpark(slot: number, fHost: number): Compiled | null {
    if (this.parked.size === 0) return null;
    const page = (fHost - RAM_OFFSET) >>> 12;
    const c = this.parked.get(page);
    if (c === undefined) return null;
    this.parked.delete(page);
    const m8 = this.m8, copy = c.copy, spans = c.spans;
    for (let i = 0; i < spans.length; i += 2) {
      for (let j = spans[i], end = j + spans[i + 1]; j < end; j++) {
        if (m8[fHost + j] !== copy[j]) {
          this.stats.dropped++;
          return null;
        }
      }
    }
    this.stats.reused++;
    this.slots[slot] = c;
    return c;
  }
}

const jits = new WeakMap<DecodeCache, Jit>();

/** The JIT of the VM whose decode cache is `cache` (one per VM, shared by its harts). */
export function jitFor(memory: WebAssembly.Memory, cache: DecodeCache, threshold: number): Jit {
  let jit = jits.get(cache);
  if (jit === undefined) {
    jit = new Jit(memory, cache, threshold);
    jits.set(cache, jit);
  }
  return jit;
}
