/** `typevisor net VERB`: the daemon's virtual networks (switches with optional NAT and port forwards). */
import { Command } from "commander";
import { CliError } from "./cli-error.ts";
import { formatFields, formatTable, print } from "./api-output.ts";
import { EXIT } from "./client/exit-codes.ts";
import { clientFor, pathSegment, verb, verbGroup, type VerbOptions } from "./daemon-verb.ts";
import { collect } from "./repeatable-option.ts";

import type { NetworkView } from "../hypervisor/model.ts";

type Forward = NetworkView["forwards"][number];

const showForward = (f: Forward) => `${f.proto}:${f.hostAddress ? `${f.hostAddress}:` : ""}${f.hostPort}->${f.guestPort}`;

export function registerNetCommand(program: Command): void {
  const net = verbGroup(program, "net", "manage the daemon's virtual networks");

  verb(net, "list", "list networks").action(async (o: VerbOptions) => {
    print(o.output, await clientFor(o).get<NetworkView[]>("/v1/networks"), (list) => formatTable(list, [
      { header: "NAME", value: (n) => n.name },
      { header: "NAT", value: (n) => (n.nat ? "yes" : "no") },
      { header: "SUBNET", value: (n) => n.subnet },
      { header: "FORWARDS", value: (n) => n.forwards.map(showForward) },
      { header: "USED BY", value: (n) => n.usedBy },
    ]));
  });

  verb(net, "info", "show a network").argument("<name>").action(async (name: string, o: VerbOptions) => {
    print(o.output, await clientFor(o).get<NetworkView>(`/v1/networks/${pathSegment(name)}`), (n) => formatFields([
      ["Name", n.name], ["NAT", n.nat ? "yes" : "no"], ["Subnet", n.subnet], ["Forwards", n.forwards.map(showForward)],
      ["Guests reach the API", n.allowApi ? "yes" : "no"], ["Used by", n.usedBy],
    ]));
  });

  verb(net, "create", "create a network")
    .argument("<name>")
    .option("--nat", "give it NAT to the host's network")
    .option("--subnet <CIDR>", "e.g. 10.0.3.0/24")
    .option("--allow-api", "let its guests reach the daemon's TCP API port (refused by default)")
    .option("--forward <[tcp|udp:][ADDR:]HOSTPORT:GUESTPORT>", "forward a host port to the guest (repeatable)", collect, [])
    .action(async (name: string, o: VerbOptions & { nat?: boolean; subnet?: string; allowApi?: boolean; forward: string[] }) => {
      const body = { name, nat: o.nat === true, ...(o.subnet && { subnet: o.subnet }), forwards: o.forward.map(parseForward), ...(o.allowApi && { allowApi: true }) };
      print(o.output, await clientFor(o).post<NetworkView>("/v1/networks", body), () => `network ${name}: created\n`);
    });

  verb(net, "delete", "delete a network no VM uses").argument("<name>").action(async (name: string, o: VerbOptions) => {
    await clientFor(o).request("DELETE", `/v1/networks/${pathSegment(name)}`);
    print(o.output, { deleted: name }, () => `network ${name}: deleted\n`);
  });
}

export function parseForward(text: string): Forward {
  const m = /^(?:(tcp|udp):)?(?:([^:]+):)?(\d{1,5}):(\d{1,5})$/.exec(text);
  const hostPort = Number(m?.[3]);
  const guestPort = Number(m?.[4]);
  if (!m || hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535)
    throw new CliError(`--forward is [tcp|udp:][ADDRESS:]HOSTPORT:GUESTPORT with ports 1-65535, not "${text}"`, EXIT.usage);
  return { proto: (m[1] ?? "tcp") as "tcp" | "udp", ...(m[2] && { hostAddress: m[2] }), hostPort, guestPort };
}
