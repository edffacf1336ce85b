/**
 * `typevisor vm VERB`: VMs on the daemon, with virsh's verbs (list, info as
 * dominfo, start, shutdown, stop as destroy, pause/resume as
 * suspend/resume, console, snapshot, restore as snapshot-revert, clone,
 * delete as undefine). See docs/cli.md.
 */
import { Command, Option } from "commander";
import { CliError } from "./cli-error.ts";
import { print } from "./api-output.ts";
import { jobOf, waitForJob } from "./client/jobs.ts";
import { EXIT } from "./client/exit-codes.ts";
import { clientFor, pathSegment, verb, verbGroup, type VerbOptions } from "./daemon-verb.ts";
import { collect } from "./repeatable-option.ts";
import { attachConsole } from "./vm-console.ts";
import { formatSnapshotList, formatVmInfo, formatVmList } from "./vm-output.ts";
import type { SnapshotView, VmView } from "../hypervisor/model.ts";

const ACTIONS = {
  start: "start a VM",
  shutdown: "ask the guest to power off",
  stop: "power a VM off now (virsh destroy)",
  reboot: "reset a VM",
  pause: "pause a VM's vCPUs (virsh suspend)",
  resume: "resume a paused VM",
} as const;

interface CreateOptions extends VerbOptions {
  memory: string; cpus: string; autostart?: boolean; start?: boolean;
  kernel?: string; initrd?: string; append?: string; firmware?: string;
  disk: string[]; network: string[]; userNet: string[]; cpuWeight?: string; cpuCap?: string;
}

export function registerVmCommand(program: Command): void {
  const vm = verbGroup(program, "vm", "manage the daemon's virtual machines (virsh-like verbs)");

  verb(vm, "list", "list VMs").action(async (o: VerbOptions) => {
    const vms = await clientFor(o).get<VmView[]>("/v1/vms");
    print(o.output, vms, formatVmList);
  });

  verb(vm, "info", "show a VM's configuration, state and usage").argument("<name>").action(async (name: string, o: VerbOptions) => {
    print(o.output, await clientFor(o).get<VmView>(`/v1/vms/${pathSegment(name)}`), formatVmInfo);
  });

  verb(vm, "create", "define a VM (the default guest unless --kernel)")
    .argument("<name>")
    .option("-m, --memory <MIB>", "guest RAM in MiB", "256")
    .option("-c, --cpus <N>", "vCPUs", "1")
    .option("--autostart", "start it whenever the daemon starts")
    .option("--start", "start it once created")
    .option("--kernel <PATH>", "boot this kernel (a path on the daemon's host) instead of the default guest")
    .option("--initrd <PATH>", "initial ramdisk for --kernel")
    .option("--append <CMDLINE>", "kernel command line for --kernel")
    .option("--firmware <FW>", "builtin, none or a path (with --kernel)")
    .option("--disk <POOL/IMAGE[:ro]>", "attach an image from a pool (repeatable)", collect, [])
    .option("--network <NAME>", "a NIC on this network (repeatable)", collect, [])
    .option("--user-net <OPTS>", "a user-mode NAT NIC with QEMU -netdev user options (repeatable)", collect, [])
    .option("--cpu-weight <N>", "relative CPU share (default 100)")
    .option("--cpu-cap <FRACTION>", "at most this fraction of one host CPU")
    .action(async (name: string, o: CreateOptions) => {
      const client = clientFor(o);
      let view = await client.post<VmView>("/v1/vms", createBody(name, o));
      if (o.start) view = await client.post<VmView>(`/v1/vms/${pathSegment(name)}/actions/start`);
      print(o.output, view, (v) => `${v.name}: ${v.state}\n`);
    });

  for (const [action, description] of Object.entries(ACTIONS)) {
    verb(vm, action, description).argument("<name>").action(async (name: string, o: VerbOptions) => {
      const view = await clientFor(o).post<VmView>(`/v1/vms/${pathSegment(name)}/actions/${action}`);
      print(o.output, view, (v) => `${v.name}: ${v.state}\n`);
    });
  }

  verb(vm, "delete", "delete a stopped VM (virsh undefine)")
    .argument("<name>")
    .option("-f, --force", "stop it first if it runs")
    .action(async (name: string, o: VerbOptions & { force?: boolean }) => {
      await clientFor(o).request("DELETE", `/v1/vms/${pathSegment(name)}${o.force ? "?force=true" : ""}`);
      print(o.output, { deleted: name }, () => `${name}: deleted\n`);
    });

  verb(vm, "clone", "copy a VM (disks and configuration) under a new name")
    .argument("<name>")
    .argument("<new-name>")
    .action(async (name: string, newName: string, o: VerbOptions) => {
      const client = clientFor(o);
      const answer = await client.post(`/v1/vms/${pathSegment(name)}/clone`, { name: newName });
      const job = jobOf(answer);
      const done = job ? await waitForJob(client, job, { label: `clone ${name} → ${newName}`, bar: o.output === "table" && process.stderr.isTTY === true }) : null;
      print(o.output, done ?? answer, () => `${newName}: cloned from ${name}\n`);
    });

  verb(vm, "console", "attach the terminal to a VM's serial console (detach with Ctrl-])")
    .argument("<name>")
    .option("--until <REGEX>", "detach when the console output matches (for scripts)")
    .addOption(new Option("--quiet-ms <MS>", "with piped input: detach after the output is quiet this long once input ends").default("500"))
    .action(async (name: string, o: VerbOptions & { until?: string; quietMs: string }) => {
      let until: RegExp | undefined;
      try {
        until = o.until === undefined ? undefined : new RegExp(o.until);
      } catch {
        throw new CliError(`--until: not a regular expression: ${o.until}`, EXIT.usage);
      }
      await attachConsole(clientFor(o), name, { until, quietMs: positiveInt("--quiet-ms", o.quietMs) });
    });

  registerSnapshotVerbs(vm);
}

function registerSnapshotVerbs(vm: Command): void {
  const snapshot = vm.command("snapshot").description("snapshots of a VM: `vm snapshot NAME SNAP` takes one");
  // The default subcommand: `vm snapshot web1 s1` means `vm snapshot create web1 s1`.
  verb(snapshot, "create", "take a snapshot (virsh snapshot-create-as)", { isDefault: true })
    .argument("<name>")
    .argument("<snapshot>")
    .action(async (name: string, snap: string, o: VerbOptions) => {
      const client = clientFor(o);
      const answer = await client.post(`/v1/vms/${pathSegment(name)}/snapshots`, { name: snap });
      const job = jobOf(answer);
      const done = job ? await waitForJob(client, job, { label: `snapshot ${name}/${snap}`, bar: o.output === "table" && process.stderr.isTTY === true }) : null;
      print(o.output, done ?? answer, () => `${name}: snapshot ${snap} taken\n`);
    });

  verb(snapshot, "list", "list a VM's snapshots (virsh snapshot-list)").argument("<name>").action(async (name: string, o: VerbOptions) => {
    print(o.output, await clientFor(o).get<SnapshotView[]>(`/v1/vms/${pathSegment(name)}/snapshots`), formatSnapshotList);
  });

  verb(snapshot, "delete", "delete a snapshot (virsh snapshot-delete)").argument("<name>").argument("<snapshot>")
    .action(async (name: string, snap: string, o: VerbOptions) => {
      await clientFor(o).request("DELETE", `/v1/vms/${pathSegment(name)}/snapshots/${pathSegment(snap)}`);
      print(o.output, { deleted: snap, vm: name }, () => `${name}: snapshot ${snap} deleted\n`);
    });

  const restore = (name: string, snap: string, o: VerbOptions) =>
    clientFor(o).post<VmView>(`/v1/vms/${pathSegment(name)}/snapshots/${pathSegment(snap)}/restore`).then((v) =>
      print(o.output, v, () => `${name}: restored snapshot ${snap}\n`));
  verb(snapshot, "restore", "go back to a snapshot (virsh snapshot-revert)").argument("<name>").argument("<snapshot>").action(restore);
  verb(vm, "restore", "go back to a snapshot (same as `vm snapshot restore`)").argument("<name>").argument("<snapshot>").action(restore);
}

function createBody(name: string, o: CreateOptions): Record<string, unknown> {
  if (o.kernel === undefined && (o.initrd ?? o.append ?? o.firmware) !== undefined)
    throw new CliError("--initrd, --append and --firmware need --kernel", EXIT.usage);
  const boot = o.kernel === undefined ? { kind: "default-guest" }
    : { kind: "kernel", kernel: o.kernel, ...(o.initrd && { initrd: o.initrd }), ...(o.append !== undefined && { append: o.append }), ...(o.firmware && { firmware: o.firmware }) };
  const disks = o.disk.map((d) => (d.endsWith(":ro") ? { image: d.slice(0, -3), readonly: true } : { image: d }));
  const nics = [...o.network.map((network) => ({ network })), ...o.userNet.map((user) => ({ user }))];
  return {
    name, memoryMiB: positiveInt("--memory", o.memory), cpus: positiveInt("--cpus", o.cpus), autostart: o.autostart === true, boot, disks, nics,
    ...(o.cpuWeight !== undefined && { cpuWeight: positiveInt("--cpu-weight", o.cpuWeight) }),
    ...(o.cpuCap !== undefined && { cpuCap: positiveNumber("--cpu-cap", o.cpuCap) }),
  };
}

export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`${flag} must be a whole number above 0, not "${text}"`, EXIT.usage);
  return n;
}

function positiveNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new CliError(`${flag} must be a number above 0, not "${text}"`, EXIT.usage);
  return n;
}

