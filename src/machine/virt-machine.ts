/**
 * The `virt` board (QEMU 7.2 `-M virt`): RAM, harts, CLINT, PLIC, NS16550A
 * UART, goldfish RTC, SiFive test finisher and eight virtio-mmio slots, the
 * device tree describing them, the boot loader, and the run loop.
 *
 * The run loop is async: it runs the harts in instruction batches, polls
 * device timers between batches, and hands the host event loop (Node, or a browser worker) a turn every
 * few milliseconds so host input and timers are delivered. When every hart
 * waits in WFI it sleeps until the next timer deadline or host input.
 */
import { createVmMemory, MAX_HARTS, RAM_BASE, RAM_OFFSET, WASM_PAGE } from "../cpu/layout.ts";
import { Hart, type HartSnapshot } from "../cpu/hart.ts";
import { Clint } from "../devices/clint.ts";
import { GoldfishRtc, hostWallNs } from "../devices/goldfish-rtc.ts";
import { Plic } from "../devices/plic.ts";
import { TestFinisher, type ExitRequest } from "../devices/test-finisher.ts";
import { Uart16550 } from "../devices/uart16550.ts";
import { VirtioSlots, type VirtioDevice } from "../devices/virtio/index.ts";
import { REG_STATUS } from "../devices/virtio/mmio-transport.ts";
import { BuiltinSbi, enterSupervisor, type SbiPlatform } from "../firmware/sbi.ts";
import { isElf } from "../loader/elf.ts";
import { loadBareMetalElf, type LoadedImage } from "../loader/bare-metal-elf.ts";
import { KERNEL_ALIGN, kernelAddress, loadKernelImage, loadRaw } from "../loader/linux-image.ts";
import { LoadError } from "../loader/load-error.ts";
import { dtbAddress, initrdAddress } from "../loader/placement.ts";
import { Bus } from "./bus.ts";
import { nextTurn } from "./event-loop.ts";
import type { InterruptSink } from "./device.ts";
import { HostClock, InstructionClock, type ClockState, type MachineClock } from "./clock.ts";
import { PAGE_DIRTY, PAGE_FORKED, PAGE_LOGGED } from "./ram-pages.ts";
import type { ClintState } from "../devices/clint.ts";
import type { PlicState } from "../devices/plic.ts";
import type { Uart16550State } from "../devices/uart16550.ts";
import type { GoldfishRtcState } from "../devices/goldfish-rtc.ts";
import type { TestFinisherState } from "../devices/test-finisher.ts";
import type { VirtioSlotsState } from "../devices/virtio/index.ts";
import type { MachineDebugger } from "./gdb-target.ts";
import { buildVirtDtb } from "./virt-dtb.ts";

export const MiB = 1 << 20;
export const DEFAULT_RAM_SIZE = 256 * MiB;
export const MIN_RAM_SIZE = 2 * MiB;
/** One wasm32 memory holds the hart area plus RAM: at most 4 GiB in all. */
export const MAX_RAM_SIZE = 65536 * WASM_PAGE - RAM_OFFSET;

/** Instructions per hart between timer polls. */
const BATCH = 1 << 14;
/** Host milliseconds of guest execution between event-loop turns. */
const SLICE_MS = 10;

/** The `fw_dynamic_info` OpenSBI's fw_dynamic reads through a2 (QEMU passes it too). */
const FW_DYNAMIC_MAGIC = 0x4942534f; // "OSBI"
const FW_DYNAMIC_VERSION = 2;
const FW_DYNAMIC_NEXT_MODE_S = 1;
const FW_DYNAMIC_INFO_SIZE = 48;

const rebootFailedNote = (why: string) => `\r\ntypevisor: the guest asked for a reboot, but the boot images cannot be loaded (${why}); powering off\r\n`;

export interface ImageFile {
  /** For error messages (a path). */
  name: string;
  bytes: Uint8Array;
}

/**
 * What runs first, in M-mode.
 * - none: the kernel is a bare-metal program (ELF at its own addresses, or
 *   a raw binary at RAM start), entered in M-mode with a0 = hart id and
 *   a1 = device tree. With no kernel the harts start at RAM start.
 * - file: firmware such as OpenSBI fw_dynamic/fw_jump (ELF, or a raw binary
 *   at RAM start); the kernel (ELF, else a Linux Image or raw payload at the
 *   first 2 MiB boundary after the firmware) is loaded for it, and a2
 *   points at a fw_dynamic_info naming the kernel as the next stage in S-mode.
 * - builtin: no M-mode code; the SBI is served by the host (src/firmware/sbi.ts)
 *   and hart 0 enters the kernel (ELF, else a Linux Image or raw payload at
 *   RAM + 2 MiB) in
 *   S-mode with a0 = 0, a1 = device tree. The other harts stay stopped until
 *   the kernel starts them (SBI HSM).
 */
export type Firmware = { kind: "none" } | { kind: "file"; image: ImageFile } | { kind: "builtin" };

/** What a (re)boot loads: the boot half of VirtMachineOptions. */
export interface BootImages {
  firmware: Firmware;
  kernel?: ImageFile;
  initrd?: ImageFile;
  bootargs?: string;
}

/** Where UART output goes. */
export interface SerialSink {
  write(data: Uint8Array): void;
  /** A promise to wait on while the host cannot take more output, else null. */
  backpressure?(): Promise<void> | null;
}

export interface VirtMachineOptions {
  /** Guest RAM in bytes (default 256 MiB). */
  ramSize?: number;
  harts?: number;
  firmware: Firmware;
  kernel?: ImageFile;
  initrd?: ImageFile;
  bootargs?: string;
  /** Deterministic time: mtime advances one tick per this many retired instructions. */
  instructionsPerTick?: number;
  /** `riscv,isa` in the device tree. */
  isa?: string;
  /** Devices for the virtio-mmio slots, first one at the highest slot. */
  virtio?: readonly VirtioDevice[];
  serial?: SerialSink;
  /**
   * false: build the board only (devices, harts held stopped, no images
   * loaded, no device tree), for a snapshot restore to fill in.
   */
  boot?: boolean;
}

/**
 * Everything the board is apart from RAM (snapshots store RAM by page):
 * plain data, structured-clone-able.
 */
export interface MachineState {
  v: 1;
  ramSize: number;
  firmware: Firmware["kind"];
  dtbAddress: number;
  dtb: Uint8Array;
  /** Harts held stopped by the firmware (SBI HSM). */
  stopped: boolean[];
  harts: HartSnapshot[];
  clock: ClockState;
  clint: ClintState;
  plic: PlicState;
  uart: Uart16550State;
  rtc: GoldfishRtcState;
  finisher: TestFinisherState;
  virtio: VirtioSlotsState;
}

export class VirtMachine {
  readonly ramSize: number;
  readonly memory: WebAssembly.Memory;
  readonly bus: Bus;
  readonly clock: MachineClock;
  readonly harts: Hart[];
  readonly clint: Clint;
  readonly plic: Plic;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  readonly finisher: TestFinisher;
  /** The virtio-mmio slots (replaced once by plugVirtio on a board built without devices). */
  virtio: VirtioSlots;
  /** The device tree of the last boot and where the guest finds it. */
  dtb: Uint8Array = new Uint8Array(0);
  dtbAddress = 0;

  /** A GDB stub's hold on the harts (gdb-target.ts), when one is attached. */
  debugger: MachineDebugger | null = null;
  /**
   * Share of one host core the run loop may use (0 < cap <= 1): after each
   * slice it sleeps in proportion to the slice's length (hypervisor CPU caps).
   */
  cpuCap = 1;
  /** Milliseconds spent running instruction slices: the machine's CPU time (its thread is busy then). */
  busyMs = 0;
  /**
   * Set non-zero by another thread (Atomics) when it wants the run loop's
   * thread: the current slice ends after the batch in progress, instead of
   * running on for up to SLICE_MS (the VMM's requests: pause, capture, stop).
   */
  attention: Int32Array | null = null;
  /** Called when the guest resets the board (a reboot), before the board resets. */
  onReset: (() => void) | null = null;
  private exitRequest: ExitRequest | null = null;
  private readonly options: VirtMachineOptions;
  /** What a reboot loads: the constructor's images, or for a board built with `boot: false`, what `bootFrom` reads. */
  private images: BootImages | (() => BootImages) | null;
  private readonly serial: SerialSink | null;
  private readonly outBuf = new Uint8Array(4096);
  private outLen = 0;
  private readonly input: Uint8Array[] = [];
  private inputPos = 0;
  private wake: (() => void) | null = null;
  /** A device's host I/O finished: complete it at the next step. */
  private ioReady = false;
  /** Harts held stopped (SBI HSM); only the built-in firmware stops any. */
  private readonly stopped: boolean[];
  /** run() is executing (between its start and its return). */
  private running = false;
  /** pause() was called and resume() not yet. */
  private pauseRequested = false;
  private isPaused = false;
  /** Callers of pause() waiting for run() to park. */
  private pauseWaiters: (() => void)[] = [];
  /** Ends the parked wait in run() (resume, quit). */
  private unpark: (() => void) | null = null;

  /** Builds the board and loads the boot images; throws LoadError/ElfError on bad images. */
  constructor(options: VirtMachineOptions) {
    this.options = options;
    this.images = options.boot === false ? null : options;
    const ramSize = options.ramSize ?? DEFAULT_RAM_SIZE;
    const hartCount = options.harts ?? 1;
    if (!Number.isInteger(ramSize) || ramSize < MIN_RAM_SIZE || ramSize > MAX_RAM_SIZE || ramSize % 4096 !== 0) {
      throw new LoadError(
        `guest RAM must be a multiple of 4 KiB from ${MIN_RAM_SIZE / MiB} MiB to ${MAX_RAM_SIZE / MiB} MiB (got ${ramSize} bytes)`,
      );
    }
    if (!Number.isInteger(hartCount) || hartCount < 1 || hartCount > MAX_HARTS) {
      throw new LoadError(`the number of harts must be 1 to ${MAX_HARTS} (got ${hartCount})`);
    }
    this.ramSize = ramSize;
    this.serial = options.serial ?? null;
    try {
      this.memory = createVmMemory(ramSize);
    } catch {
      throw new LoadError(`cannot allocate ${Math.ceil(ramSize / MiB)} MiB of guest RAM on this host; use less memory (-m)`);
    }
    this.bus = new Bus(this.memory, ramSize);
    this.clock =
      options.instructionsPerTick !== undefined ? new InstructionClock(options.instructionsPerTick) : new HostClock();
    const clock = this.clock;
    this.harts = [];
    for (let h = 0; h < hartCount; h++) this.harts.push(new Hart(this.memory, h, this.bus, clock));
    // Without a boot, nothing may run until a restore says what.
    this.stopped = this.harts.map(() => options.boot === false);
    if (options.firmware.kind === "builtin") new BuiltinSbi(this.sbiPlatform()).install();

    this.finisher = new TestFinisher((request) => this.requestExit(request));
    this.clint = new Clint(this.harts, clock);
    this.plic = new Plic(this.harts);
    this.uart = new Uart16550(this.plic, (byte) => this.serialOut(byte));
    const rtcTime = clock.deterministic ? () => BigInt(clock.now()) * 100n : hostWallNs();
    this.rtc = new GoldfishRtc(this.plic, rtcTime);
    this.virtio = this.virtioSlots(options.virtio ?? []);
    for (const dev of [this.finisher, this.rtc, this.clint, this.plic, this.uart]) this.bus.addDevice(dev);
    for (const slot of this.virtio.slots) this.bus.addDevice(slot.mmio);

    if (options.boot !== false) this.boot(options);
  }

  /** True while the machine is paused: run() is parked between batches and guest time stands still. */
  get paused(): boolean {
    return this.isPaused;
  }

  /**
   * Stops the guest between two instruction batches, with its clock stopped.
   * Resolves once run() is parked and no disk request is in flight (each
   * one finished and completed to the guest). The machine's state is then
   * consistent for save() or a snapshot.
   */
  pause(): Promise<void> {
    this.pauseRequested = true;
    if (this.isPaused) return Promise.resolve();
    if (!this.running) {
      this.park();
      return this.virtio.drainIo();
    }
    for (const hart of this.harts) hart.requestStop();
    this.wakeUp();
    return new Promise((resolve) => this.pauseWaiters.push(resolve));
  }

  /** Continues after pause(); guest time continues from where it stopped. */
  resume(): void {
    this.pauseRequested = false;
    // A pause that had not taken effect yet is over too.
    for (const resolve of this.pauseWaiters.splice(0)) resolve();
    if (!this.isPaused) return;
    this.isPaused = false;
    this.clock.resume();
    this.unpark?.();
  }

  /**
   * The whole board but RAM, for a snapshot. The machine must be paused (or
   * never run): state is only consistent between instruction batches.
   */
  save(): MachineState {
    if (this.running && !this.isPaused) throw new Error("pause the machine before saving it");
    this.flushSerial();
    return {
      v: 1,
      ramSize: this.ramSize,
      firmware: this.options.firmware.kind,
      dtbAddress: this.dtbAddress,
      dtb: this.dtb.slice(),
      stopped: this.stopped.slice(),
      harts: this.harts.map((h) => h.save()),
      clock: this.clock.save(),
      clint: this.clint.save(),
      plic: this.plic.save(),
      uart: this.uart.save(),
      rtc: this.rtc.save(),
      finisher: this.finisher.save(),
      virtio: this.virtio.save(),
    };
  }

  /**
   * Why `state` cannot be restored onto this machine (other RAM size, hart
   * count, firmware, devices or disks), or null. Touches nothing.
   */
  mismatch(state: MachineState): string | null {
    if (this.running && !this.isPaused) return "the machine is running: pause it first";
    if (state?.v !== 1) return "the machine state has an unknown version";
    if (state.ramSize !== this.ramSize) return `the snapshot has ${state.ramSize} bytes of RAM, this machine ${this.ramSize}`;
    if (!Array.isArray(state.harts) || state.harts.length !== this.harts.length) {
      return `the snapshot has ${state.harts?.length} harts, this machine ${this.harts.length}`;
    }
    if (!Array.isArray(state.stopped) || state.stopped.length !== this.harts.length) return "the snapshot's hart list is malformed";
    if (state.firmware !== this.options.firmware.kind) {
      return `the snapshot was taken with firmware "${state.firmware}", this machine has "${this.options.firmware.kind}"`;
    }
    const slots = state.virtio?.slots;
    if (!Array.isArray(slots) || slots.length !== this.virtio.slots.length) return "the snapshot's virtio slots are malformed";
    for (let i = 0; i < slots.length; i++) {
      const here = this.virtio.slots[i].transport;
      const saved = slots[i];
      const where = `virtio slot at 0x${this.virtio.slots[i].base.toString(16)}`;
      if ((here === null) !== (saved === null)) {
        return `${where}: the snapshot has ${saved === null ? "no device" : "a device"} there, this machine ${here === null ? "none" : here.device.name}`;
      }
      if (here === null || saved === null) continue;
      if (saved.deviceId !== here.device.deviceId) return `${where}: the snapshot's device is not a ${here.device.name}`;
      const why = here.device.mismatch?.(saved.device) ?? null;
      if (why !== null) return why;
    }
    return null;
  }

  /**
   * Becomes the saved machine (RAM aside: the snapshot code fills it). Throws
   * before changing anything when `mismatch` finds a reason. Guest time
   * continues from the saved mtime.
   */
  restore(state: MachineState): void {
    const why = this.mismatch(state);
    if (why !== null) throw new Error(why);
    this.exitRequest = null;
    this.clock.restore(state.clock);
    this.harts.forEach((h, i) => h.restore(state.harts[i]));
    state.stopped.forEach((s, i) => (this.stopped[i] = s === true));
    this.clint.restore(state.clint);
    this.plic.restore(state.plic);
    this.uart.restore(state.uart);
    this.rtc.restore(state.rtc);
    this.finisher.restore(state.finisher);
    this.virtio.restore(state.virtio);
    this.dtb = Uint8Array.from(state.dtb);
    this.dtbAddress = state.dtbAddress;
    // Decoded instructions belong to the old RAM.
    this.bus.code.forgetAll();
  }

  /**
   * Releases what the machine holds on the host for its RAM (a lazy
   * restore's snapshot file or image). The machine must not run again.
   */
  close(): void {
    this.bus.pages.detach();
  }

  /**
   * Pages written since the last snapshot baseline (`cleanPages`), as RAM
   * page numbers (RAM byte offset / 4096).
   */
  dirtyPages(): Uint32Array {
    return this.bus.pages.pagesWith(PAGE_DIRTY);
  }

  /** RAM now equals a snapshot: from here on dirtyPages() lists what changes. */
  cleanPages(): void {
    this.bus.pages.clear(PAGE_DIRTY);
    this.dropWriteTags();
  }

  /** Starts (or restarts) the dirty-page log that live migration copies by. */
  startDirtyLog(): void {
    this.bus.pages.clear(PAGE_LOGGED);
    this.dropWriteTags();
  }

  /** The pages written since the log was started or last taken; restarts it. Call between batches. */
  takeDirtyLog(): Uint32Array {
    const pages = this.bus.pages.pagesWith(PAGE_LOGGED);
    this.startDirtyLog();
    return pages;
  }

  /** RAM now equals a fork image: from here on PAGE_FORKED marks the pages the next image must copy again. */
  cleanForkMarks(): void {
    this.bus.pages.clear(PAGE_FORKED);
    this.dropWriteTags();
  }

  /** After clearing written marks: every hart's next store to a page takes the slow path, which marks it. */
  private dropWriteTags(): void {
    for (const hart of this.harts) hart.flushTlb();
  }

  /** Enters the paused state: clock stopped, output flushed, pause() callers told. */
  private park(): void {
    this.clock.pause();
    this.isPaused = true;
    this.flushSerial();
    for (const resolve of this.pauseWaiters.splice(0)) resolve();
  }

  /** run() waits here while paused, until resume() or quit(). */
  private async parked(): Promise<void> {
    if (!this.isPaused) {
      // A snapshot never holds a half-done disk request: finish them first (the guest stays stopped).
      await this.virtio.drainIo();
      if (!this.pauseRequested || this.exitRequest !== null) return;
      this.park();
    }
    await new Promise<void>((resolve) => {
      this.unpark = resolve;
    });
    this.unpark = null;
  }

  /** Host input bytes not yet taken by the guest: a feeder waits while this is large (back-pressure). */
  get inputBacklog(): number {
    let bytes = -this.inputPos;
    for (const chunk of this.input) bytes += chunk.length;
    return bytes;
  }

  /** Host → guest serial input (keyboard, pipe); delivered as the UART has room. */
  sendInput(data: Uint8Array): void {
    if (data.length === 0) return;
    this.input.push(data.slice());
    this.wakeUp();
  }

  /** Ends an idle sleep of the run loop at once (a debugger stopped the machine). */
  interruptSleep(): void {
    this.wakeUp();
  }

  /** Ends `run` as if the guest powered off with `code` (e.g. Ctrl-A x). */
  quit(code = 0): void {
    this.requestExit({ kind: "poweroff", code });
  }

  /**
   * Runs until the guest powers off (test finisher, or `quit`), resetting
   * the board when the guest asks for a reset. Resolves to the exit code:
   * 0 for a pass/poweroff, the code of a (code << 16) | 0x3333 failure.
   */
  async run(): Promise<number> {
    this.running = true;
    try {
      return await this.runLoop();
    } finally {
      // Nothing may still be writing guest RAM or the disk once run() is over.
      await this.virtio.drainIo();
      this.running = false;
    }
  }

  private async runLoop(): Promise<number> {
    for (;;) {
      if (this.pauseRequested && this.exitRequest === null) {
        await this.parked();
        continue;
      }
      const sliceStart = performance.now();
      const sliceEnd = sliceStart + SLICE_MS;
      let sleepMs = 0;
      const held = this.debugger?.held() ?? null;
      if (held !== null) {
        this.clock.pause(); // guest time stands still while the debugger holds the machine
        await held;
        this.clock.resume();
        continue;
      }
      const attention = this.attention;
      while (
        this.exitRequest === null &&
        !this.pauseRequested &&
        (attention === null || Atomics.load(attention, 0) === 0) &&
        performance.now() < sliceEnd &&
        this.debugger?.held() == null
      ) {
        const deadline = this.step();
        if (this.exitRequest === null && this.allWaiting()) {
          sleepMs = this.clock.idleUntil(deadline);
          if (sleepMs > 0) break;
        }
      }
      const ran = performance.now() - sliceStart;
      this.busyMs += ran;
      // Duty cycle for a CPU cap: run `ran` ms, then rest ran·(1−cap)/cap ms.
      if (this.cpuCap < 1) sleepMs = Math.max(sleepMs, (ran * (1 - this.cpuCap)) / this.cpuCap);
      this.flushSerial();
      const request = this.exitRequest as ExitRequest | null;
      if (request !== null) {
        this.exitRequest = null;
        if (request.kind === "poweroff") {
          this.debugger?.poweredOff(request.code);
          return request.code;
        }
        let images: BootImages;
        try {
          images = this.bootImages();
        } catch (e) {
          // Built for a restore, with images gone since: stop rather than hang.
          this.debugger?.poweredOff(0);
          for (const b of new TextEncoder().encode(rebootFailedNote((e as Error).message))) this.serialOut(b);
          this.flushSerial();
          return 0;
        }
        this.onReset?.();
        this.reset(images);
        continue;
      }
      const pressure = this.serial?.backpressure?.() ?? null;
      if (pressure !== null) await pressure;
      if (sleepMs > 0) await this.sleep(sleepMs);
      else await nextTurn();
    }
  }

  /**
   * Power-on reset of the board: devices, harts, boot images (RAM is
   * otherwise kept, as on QEMU). Throws LoadError when a board built with
   * `boot: false` has no images (see bootFrom).
   */
  reset(images: BootImages = this.bootImages()): void {
    this.clint.reset();
    this.plic.reset();
    this.uart.reset();
    this.rtc.reset();
    for (const slot of this.virtio.populated()) slot.mmio.write(REG_STATUS, 4, 0);
    this.boot(images);
  }

  /**
   * Where a board built with `boot: false` (to restore a snapshot into) gets
   * its boot images when the guest reboots: read then, not at restore, so a
   * restore never reads them and a reboot sees the files as they are.
   */
  bootFrom(images: BootImages | (() => BootImages)): void {
    this.images = images;
  }

  /**
   * Gives a board built without virtio devices (a prebuilt board, waiting for
   * its VM) its devices, before it runs or restores. Throws if it has some.
   */
  plugVirtio(devices: readonly VirtioDevice[]): void {
    if (this.virtio.populated().length > 0) throw new Error("the board already has virtio devices");
    const slots = this.virtioSlots(devices);
    this.virtio.slots.forEach((slot, i) => this.bus.replaceDevice(slot.mmio, slots.slots[i].mmio));
    this.virtio = slots;
  }

  /**
   * The virtio slots holding `devices`, wired to wake the run loop: an
   * interrupt raised by a host event (a frame from a socket) while the harts
   * idle in WFI ends the sleep at once, not at the next timer tick, and so
   * does a disk request the host finished (its completion is delivered in
   * the loop).
   */
  private virtioSlots(devices: readonly VirtioDevice[]): VirtioSlots {
    const sink: InterruptSink = {
      setIrq: (irq, level) => {
        this.plic.setIrq(irq, level);
        if (level) this.wakeUp();
      },
    };
    const onIoReady = () => {
      this.ioReady = true;
      this.wakeUp();
    };
    return new VirtioSlots({ mem: this.bus, sink, devices, onIoReady });
  }

  private bootImages(): BootImages {
    const images = typeof this.images === "function" ? this.images() : this.images;
    if (images === null) throw new LoadError("this machine was built to restore a snapshot into and has no boot images");
    return images;
  }

  /** Runs every hart one batch and polls the timers; returns the next timer deadline. */
  private step(): number {
    let retired = 0;
    const harts = this.harts;
    for (let h = 0; h < harts.length; h++) {
      if (!this.stopped[h] && !harts[h].waiting) retired += this.debugger === null ? harts[h].run(BATCH) : this.debugger.runHart(harts[h], BATCH);
      if (this.exitRequest !== null) break;
    }
    this.clock.retired(retired);
    // A RAM page a lazy restore could not load (a device may have swallowed the error).
    if (this.bus.pages.failure !== null) throw this.bus.pages.failure;
    // After the harts ran: the guest may have made room, and new bytes wake it.
    this.feedInput();
    if (this.ioReady) {
      this.ioReady = false;
      this.virtio.completeIo();
    }
    return this.pollTimers();
  }

  private pollTimers(): number {
    const now = this.clock.now();
    let deadline = Math.min(this.clint.pollTimers(now), this.rtc.pollTimers(now));
    for (const hart of this.harts) {
      const sstc = hart.timerDeadline();
      if (sstc > now && sstc < deadline) deadline = sstc;
    }
    return deadline;
  }

  private allWaiting(): boolean {
    for (let h = 0; h < this.harts.length; h++) if (!this.stopped[h] && !this.harts[h].waiting) return false;
    return true;
  }

  /**
   * Loads firmware, kernel, initrd and a fresh device tree, as QEMU lays them
   * out, and points every hart at the entry with a0 = hart id, a1 = device
   * tree, a2 = fw_dynamic_info (firmware boots only).
   */
  private boot({ firmware, kernel, initrd, bootargs }: BootImages): void {
    const images: [string, LoadedImage][] = [];
    const load = (file: ImageFile, other: (bus: Bus, bytes: Uint8Array, name: string) => LoadedImage) => {
      const image = isElf(file.bytes) ? loadBareMetalElf(this.bus, file.bytes, file.name) : other(this.bus, file.bytes, file.name);
      images.push([file.name, image]);
      return image;
    };
    const atRamStart = (bus: Bus, bytes: Uint8Array, name: string) => loadRaw(bus, bytes, RAM_BASE, name);
    const kernelAt = (address: number) => (bus: Bus, bytes: Uint8Array, name: string) => loadKernelImage(bus, bytes, address, name);

    let entry: number;
    let next: LoadedImage | null = null;
    if (firmware.kind === "none") {
      // Without a program the harts start at RAM, as on QEMU.
      next = kernel ? load(kernel, atRamStart) : null;
      entry = next?.entry ?? RAM_BASE;
    } else if (firmware.kind === "file") {
      const fw = load(firmware.image, atRamStart);
      entry = fw.entry;
      if (kernel) next = load(kernel, kernelAt(kernelAddress(fw.end)));
    } else {
      next = kernel ? load(kernel, kernelAt(RAM_BASE + KERNEL_ALIGN)) : null;
      entry = next?.entry ?? 0;
    }

    let initrdRange: { start: number; end: number } | undefined;
    if (initrd) {
      if (!next) throw new LoadError("--initrd needs a kernel to use it: give one with --kernel");
      const start = initrdAddress(next.entry, this.ramSize);
      const end = start + initrd.bytes.length;
      if (this.bus.ramOffset(start, initrd.bytes.length) < 0) {
        throw new LoadError(`${initrd.name} (${initrd.bytes.length} bytes at 0x${start.toString(16)}) does not fit in RAM; use more memory (-m)`);
      }
      this.bus.ram.set(initrd.bytes, start - RAM_BASE);
      this.bus.ramWritten(start - RAM_BASE, initrd.bytes.length);
      images.push([initrd.name, { entry: start, start, end }]);
      initrdRange = { start, end };
    }

    const o = this.options;
    this.dtb = buildVirtDtb({
      ramBase: RAM_BASE,
      ramSize: this.ramSize,
      harts: this.harts.length,
      isa: o.isa,
      bootargs,
      initrd: initrdRange,
      // Deterministic runs stay reproducible: no host entropy in the tree.
      rngSeed: this.clock.deterministic ? undefined : crypto.getRandomValues(new Uint8Array(32)),
    });
    const infoOffset = (this.dtb.length + 7) & ~7;
    this.dtbAddress = dtbAddress(RAM_BASE, this.ramSize, infoOffset + FW_DYNAMIC_INFO_SIZE);
    for (const [name, image] of images) {
      if (image.end > this.dtbAddress) {
        throw new LoadError(
          `${name} (up to 0x${image.end.toString(16)}) overlaps the device tree at 0x${this.dtbAddress.toString(16)}; use more memory (-m)`,
        );
      }
    }
    this.bus.ramOffset(this.dtbAddress, this.dtb.length); // present, if a lazy restore has not loaded it
    this.bus.ram.set(this.dtb, this.dtbAddress - RAM_BASE);
    this.bus.ramWritten(this.dtbAddress - RAM_BASE, this.dtb.length);
    let fwInfo = 0;
    if (firmware.kind === "file") {
      // Always there, as on QEMU; with no kernel the next stage is address 0.
      fwInfo = this.dtbAddress + infoOffset;
      this.writeFwDynamicInfo(fwInfo, next?.entry ?? 0);
    }
    for (const hart of this.harts) {
      if (firmware.kind === "builtin") {
        // With nothing to boot every hart stays stopped.
        enterSupervisor(hart, entry, this.dtbAddress);
        this.stopped[hart.hartId] = hart.hartId !== 0 || next === null;
        continue;
      }
      hart.reset(entry);
      hart.state.setX(10, hart.hartId);
      hart.state.setX(11, this.dtbAddress);
      hart.state.setX(12, fwInfo);
    }
  }

  /** What the built-in SBI firmware drives: the console, power and the harts. */
  private sbiPlatform(): SbiPlatform {
    return {
      harts: this.harts,
      putChar: (c) => this.serialOut(c),
      getChar: () => this.takeInputByte(),
      // As OpenSBI on this board: any shutdown is a pass (status 0), any reboot a reset.
      systemReset: (type) => this.requestExit(type === 0 ? { kind: "poweroff", code: 0 } : { kind: "reset" }),
      startHart: (id, addr, opaque) => {
        enterSupervisor(this.harts[id], addr, opaque);
        this.stopped[id] = false;
        return true;
      },
      stopHart: (id) => {
        this.stopped[id] = true;
        this.harts[id].requestStop();
      },
      isHartStarted: (id) => !this.stopped[id],
    };
  }

  /** Tells OpenSBI's fw_dynamic to continue at `nextAddr` in S-mode, booting on hart 0. */
  private writeFwDynamicInfo(address: number, nextAddr: number): void {
    this.bus.ramOffset(address, FW_DYNAMIC_INFO_SIZE);
    const dv = new DataView(this.bus.ram.buffer, this.bus.ram.byteOffset + (address - RAM_BASE), FW_DYNAMIC_INFO_SIZE);
    const fields = [FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, nextAddr, FW_DYNAMIC_NEXT_MODE_S, 0, 0];
    fields.forEach((v, i) => dv.setBigUint64(8 * i, BigInt(v), true));
    this.bus.ramWritten(address - RAM_BASE, FW_DYNAMIC_INFO_SIZE);
  }

  private requestExit(request: ExitRequest): void {
    if (this.exitRequest?.kind === "poweroff") return;
    this.exitRequest = request;
    for (const hart of this.harts) hart.requestStop();
    this.wakeUp();
    this.unpark?.();
  }

  /** One byte of host input for the SBI console, or -1. */
  private takeInputByte(): number {
    const chunk = this.input[0];
    if (chunk === undefined) return -1;
    const byte = chunk[this.inputPos++];
    if (this.inputPos === chunk.length) {
      this.input.shift();
      this.inputPos = 0;
    }
    return byte;
  }

  private feedInput(): void {
    const input = this.input;
    while (input.length > 0) {
      const chunk = input[0];
      while (this.inputPos < chunk.length && this.uart.receive(chunk[this.inputPos])) this.inputPos++;
      if (this.inputPos < chunk.length) return;
      input.shift();
      this.inputPos = 0;
    }
  }

  private serialOut(byte: number): void {
    if (this.outLen === this.outBuf.length) this.flushSerial();
    this.outBuf[this.outLen++] = byte;
  }

  private flushSerial(): void {
    if (this.outLen === 0) return;
    const data = this.outBuf.slice(0, this.outLen);
    this.outLen = 0;
    this.serial?.write(data);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = ms === Infinity ? undefined : setTimeout(done, ms);
      this.wake = done;
    });
  }

  private wakeUp(): void {
    this.wake?.();
  }
}
