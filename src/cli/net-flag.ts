/**
 * `--net`'s value as a NIC: `none`, `null`, `loopback`, `user[,OPTIONS]`
 * or `switch=PATH`, each with optional `mac=` and `dump=FILE.pcap`. The
 * user NAT's own options (QEMU's -netdev user) pass through to its parser.
 */
import { randomBytes } from "node:crypto";

export const NET_FLAG_FORMS = "none, null, loopback, user[,option=value...] or switch=PATH (each with optional ,mac=MAC and ,dump=FILE.pcap)";

/** The NIC to validate (null for none), or a problem in the flag's own terms. */
export function nicFromNetFlag(text: string): { nic: Record<string, unknown> | null } | { problem: string } {
  if (text === "none") return { nic: null };
  const [head, ...rest] = text.split(",");
  const nic: Record<string, unknown> = {};
  const userOptions: string[] = [];
  if (head === "null" || head === "loopback" || head === "user") nic.backend = head;
  else if (head.startsWith("switch=")) {
    nic.backend = "switch";
    nic.path = head.slice("switch=".length);
  } else return { problem: `--net ${text}: expected ${NET_FLAG_FORMS}` };
  for (const option of rest) {
    const [key] = option.split("=", 1);
    const value = option.slice(key.length + 1);
    if (key === "mac" || key === "dump") nic[key] = value;
    else if (head === "user") userOptions.push(option);
    else return { problem: `--net ${text}: unknown option "${option}" (a ${nic.backend} NIC takes mac= and dump=)` };
  }
  if (userOptions.length > 0) nic.options = userOptions.join(",");
  // Two VMs on one switch must not share QEMU's default MAC: a switch NIC gets its own unless mac= names one.
  if (nic.backend === "switch" && nic.mac === undefined) nic.mac = randomMac();
  return { nic };
}

/** 52:54:00 (QEMU's prefix) and three random bytes. */
export function randomMac(): string {
  return ["52", "54", "00", ...Array.from(randomBytes(3), (b) => b.toString(16).padStart(2, "0"))].join(":");
}
