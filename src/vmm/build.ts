/**
 * The one place a VmConfig becomes a machine: it opens the drives' images,
 * creates the NIC and RNG backends and the virtio devices, reads the boot
 * images and builds the VirtMachine. Validate the config first
 * (validateVmConfig); what can still fail here is the host (a file changed
 * since, RAM that cannot be allocated) or an image the loader rejects.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { openDrive, type BlockBackend } from "../backends/block/index.ts";
import type { EthernetBackend } from "../backends/net/ethernet-backend.ts";
import { LoopbackEthernetBackend } from "../backends/net/loopback.ts";
import { NullEthernetBackend } from "../backends/net/null.ts";
import { CapturingBackend, PcapWriter } from "../backends/net/pcap.ts";
import { SwitchClientBackend } from "../backends/net/switch-client.ts";
import { VirtioBlk, VirtioNet, VirtioRng, type VirtioDevice } from "../devices/virtio/index.ts";
import { LoadError } from "../loader/load-error.ts";
import { VirtMachine, type BootImages, type Firmware, type ImageFile, type SerialSink } from "../machine/virt-machine.ts";
import { boardShape, type BoardShape } from "./board-shape.ts";
import { userNetSpec, type NicConfig, type VmConfig } from "./config.ts";
import { UserNetBackend } from "../backends/net/user/user-net.ts";
import { parseUserNetSpec } from "../backends/net/user/options.ts";

export interface BuildOptions {
  serial?: SerialSink;
  /**
   * False: devices built but no images loaded and no harts started (to
   * restore a snapshot into); the images are read if the guest reboots.
   */
  boot?: boolean;
  /** With boot false: a board from buildBoard, of the config's shape, to put the devices on (else a new one). */
  board?: VirtMachine;
}

/**
 * A board with no devices and no images, its memory allocated and its harts
 * built, waiting for a VM of this shape to be restored or forked into
 * (buildMachine's `board`): what a prewarmed worker holds.
 */
export function buildBoard(shape: BoardShape, serial?: SerialSink): VirtMachine {
  const firmware: Firmware = shape.firmware === "file" ? { kind: "file", image: { name: "", bytes: new Uint8Array(0) } } : { kind: shape.firmware };
  const board = new VirtMachine({ ramSize: shape.memory, harts: shape.harts, firmware, instructionsPerTick: shape.icount, serial, boot: false });
  // Code a worker runs for the first time is compiled and run slowly: take the restore path once now, not at the VM's restore.
  board.restore(board.save());
  return board;
}

/** Reads the config's firmware, kernel and initrd. Throws LoadError. */
export function readBootImages(config: VmConfig): BootImages {
  const firmware: Firmware = config.firmware.kind === "file" ? { kind: "file", image: readImage(config.firmware.path) } : config.firmware;
  const kernel = config.kernel === undefined ? undefined : readImage(config.kernel);
  const initrd = config.initrd === undefined ? undefined : readImage(config.initrd);
  return { firmware, kernel, initrd, bootargs: config.append };
}

export function buildMachine(config: VmConfig, options: BuildOptions = {}): VirtMachine {
  const boot = options.boot !== false;

  const disks: BlockBackend[] = [];
  const nets: EthernetBackend[] = [];
  try {
    const virtio: VirtioDevice[] = [];
    for (const drive of config.drives) {
      const backend = openDrive({ file: drive.file, readOnly: drive.readonly, snapshot: drive.snapshot, format: drive.format, discard: drive.discard, cache: drive.cache });
      disks.push(backend);
      const diskPath = backend.path === undefined ? undefined : resolve(backend.path);
      virtio.push(new VirtioBlk(drive.serial === undefined ? { backend, diskPath } : { backend, diskPath, serial: drive.serial }));
    }
    for (const nic of config.nics) {
      const backend = ethernet(nic);
      nets.push(backend);
      virtio.push(new VirtioNet(nic.mac === undefined ? { backend } : { backend, mac: nic.mac }));
    }
    if (config.rng) virtio.push(new VirtioRng());

    if (boot) {
      return new VirtMachine({ ramSize: config.memory, harts: config.harts, ...readBootImages(config), instructionsPerTick: config.icount, virtio, serial: options.serial });
    }
    const machine = options.board ?? buildBoard(boardShape(config), options.serial);
    machine.plugVirtio(virtio);
    machine.bootFrom(() => readBootImages(config));
    return machine;
  } catch (e) {
    for (const disk of disks) disk.close();
    for (const net of nets) net.close?.();
    throw e;
  }
}

function readImage(path: string): ImageFile {
  try {
    return { name: path, bytes: readFileSync(path) };
  } catch (e) {
    throw new LoadError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A NIC's host side (also the daemon's bridge for a NIC that runs in a browser tab). */
export function ethernet(nic: NicConfig): EthernetBackend {
  const backend = plainEthernet(nic);
  if (nic.dump === undefined) return backend;
  try {
    return new CapturingBackend(backend, new PcapWriter(nic.dump));
  } catch (e) {
    backend.close?.();
    throw e;
  }
}

function plainEthernet(nic: NicConfig): EthernetBackend {
  switch (nic.backend) {
    case "loopback": return new LoopbackEthernetBackend();
    // Its port forwards are bound, and a switch port connected, by whoever runs the machine (await ready()).
    case "user": return new UserNetBackend(parseUserNetSpec(userNetSpec(nic.options)));
    case "switch": return new SwitchClientBackend(nic.path as string);
    default: return new NullEthernetBackend();
  }
}

/** Waits until every NIC's host side is set up (a user NIC's port forwards bound). */
export async function backendsReady(machine: VirtMachine): Promise<void> {
  for (const slot of machine.virtio.populated()) {
    const device = slot.transport?.device;
    if (device instanceof VirtioNet) await device.backend.ready?.();
  }
}

/**
 * Flushes and closes every drive and NIC backend of a machine. Worker threads
 * share the process's file descriptors: a drive left open would outlive its VM.
 */
export function closeBackends(machine: VirtMachine): void {
  for (const slot of machine.virtio.populated()) {
    const device = slot.transport?.device;
    if (device instanceof VirtioBlk) {
      device.backend.flush();
      device.backend.close();
    } else if (device instanceof VirtioNet) {
      device.backend.close?.();
    }
  }
}
