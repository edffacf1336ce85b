/**
 * `typevisor switch PATH [--uplink user[,...]]`: runs a learning Ethernet
 * switch in the foreground, listening on the Unix socket PATH for VMs in
 * other processes (`typevisor run --net switch=PATH`, or QEMU's
 * `-netdev stream,server=off,addr.type=unix,addr.path=PATH`). The switch is
 * its own process, as VDE's vde_switch: VMs come and go, it stays until
 * SIGINT or SIGTERM, when it disconnects them and removes its socket.
 */
import type { Command } from "commander";
import { openSwitch } from "../backends/net/virtual-switch.ts";
import { CliError } from "./cli-error.ts";

interface SwitchFlags {
  uplink?: string;
}

export function registerSwitchCommand(program: Command): void {
  program
    .command("switch")
    .description("run a virtual Ethernet switch on a Unix socket that VMs join with run --net switch=PATH")
    .argument("<PATH>", "the Unix socket to listen on (a stale one is replaced)")
    .option("--uplink <user[,...]>", "a user-mode NAT all the switch's VMs share (DHCP, DNS, outbound TCP/UDP; options as --net user)")
    .action(async (path: string, flags: SwitchFlags) => {
      process.exitCode = await runSwitch(path, flags);
    });
}

async function runSwitch(path: string, flags: SwitchFlags): Promise<number> {
  const sw = await openSwitch({ path, uplink: flags.uplink }).catch((e: Error) => {
    throw new CliError(e.message.replace(/^--net [^:]*:/, `--uplink ${flags.uplink}:`));
  });
  const uplink = flags.uplink === undefined ? "" : ` with uplink ${flags.uplink}`;
  process.stderr.write(`typevisor: switch listening on ${path}${uplink}; stop it with Ctrl-C\n`);
  await new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await sw.close();
  return 0;
}
