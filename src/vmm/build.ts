// PLACEHOLDER until branch `cli` lands src/vmm/build.ts (interfaces.md §2); replaced at merge.
import { readFileSync } from "node:fs";
import { openDrive } from "../backends/block/index.ts";
import { LoopbackEthernetBackend } from "../backends/net/loopback.ts";
import { NullEthernetBackend } from "../backends/net/null.ts";
import { VirtioBlk, VirtioNet, VirtioRng, type VirtioDevice } from "../devices/virtio/index.ts";
import { VirtMachine, type Firmware, type SerialSink } from "../machine/virt-machine.ts";
import type { VmConfig } from "./config.ts";

export interface BuildOptions { serial?: SerialSink; boot?: boolean }

export function buildMachine(config: VmConfig, options: BuildOptions = {}): VirtMachine {
  const image = (path: string) => ({ name: path, bytes: readFileSync(path) });
  const firmware: Firmware = config.firmware.kind === "file" ? { kind: "file", image: image(config.firmware.path) } : config.firmware;
  const virtio: VirtioDevice[] = config.drives.map(
    (d) => new VirtioBlk({ backend: openDrive({ file: d.file, format: "raw", readOnly: d.readonly } as Parameters<typeof openDrive>[0]) }),
  );
  for (const nic of config.nics) virtio.push(new VirtioNet({ backend: nic.backend === "null" ? new NullEthernetBackend() : new LoopbackEthernetBackend(), mac: nic.mac }));
  if (config.rng) virtio.push(new VirtioRng());
  return new VirtMachine({
    ramSize: config.memory, harts: config.harts, firmware,
    kernel: config.kernel === undefined ? undefined : image(config.kernel),
    initrd: config.initrd === undefined ? undefined : image(config.initrd),
    bootargs: config.append, instructionsPerTick: config.icount, virtio, serial: options.serial, boot: options.boot,
  });
}
