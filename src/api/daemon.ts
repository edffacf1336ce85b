/**
 * The daemon as one object: opens the hypervisor, the token store, the
 * audit log, listens on <data-dir>/api.sock (mode 0600) and, when asked,
 * on TCP+TLS; starts the autostart VMs. `close(mode)` stops listening and
 * stops or saves every VM. `typevisor serve` and the tests use it.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { AuditLog, FailureThrottle, TokenStore, type ThrottleOptions } from "../hypervisor/auth/index.ts";
import { Hypervisor, type ShutdownMode } from "../hypervisor/hypervisor.ts";
import { buildApi } from "./server.ts";
import { DEFAULT_RESOURCE_LIMITS, Vm } from "../vmm/vm.ts";
import { tlsCertificate } from "./tls.ts";

export interface DaemonOptions {
  dataDir: string;
  logger: Logger;
  /** "HOST:PORT" for TCP+TLS (port 0: any free port). */
  listen?: string;
  tls?: { certFile: string; keyFile: string };
  overcommitRatio?: number;
  hostMemoryBytes?: number;
  hostCpus?: number;
  throttle?: ThrottleOptions;
  /** Worker threads kept started ahead of VM starts (Vm.prewarm; default 0). */
  prewarm?: number;
}

export class Daemon {
  tcpPort: number | null = null;
  certFile: string | null = null;
  private apps: FastifyInstance[] = [];

  private constructor(
    readonly hypervisor: Hypervisor,
    readonly tokens: TokenStore,
    private readonly audit: AuditLog,
    readonly socketPath: string,
  ) {}

  static async start(o: DaemonOptions): Promise<Daemon> {
    let daemon: Daemon | null = null;
    const hypervisor = new Hypervisor({
      dataDir: o.dataDir,
      overcommitRatio: o.overcommitRatio,
      hostMemoryBytes: o.hostMemoryBytes,
      hostCpus: o.hostCpus,
      apiPort: () => daemon?.tcpPort ?? null,
      warn: (message) => o.logger.warn(message),
    });
    const auditFile = join(o.dataDir, "audit.log");
    daemon = new Daemon(hypervisor, await TokenStore.open(o.dataDir), await AuditLog.open(auditFile), join(o.dataDir, "api.sock"));
    const services = { hypervisor, tokens: daemon.tokens, throttle: new FailureThrottle(o.throttle), audit: daemon.audit, auditFile, logger: o.logger };

    const unix = await buildApi(services, { kind: "unix" });
    if (existsSync(daemon.socketPath)) unlinkSync(daemon.socketPath); // left by a daemon that was killed
    await unix.listen({ path: daemon.socketPath });
    chmodSync(daemon.socketPath, 0o600);
    daemon.apps.push(unix);

    if (o.listen !== undefined) {
      const at = o.listen.lastIndexOf(":");
      const host = o.listen.slice(0, at).replace(/^\[|\]$/g, "");
      const port = Number(o.listen.slice(at + 1));
      if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen ${o.listen}: expected HOST:PORT`);
      const tls = await tlsCertificate(o.dataDir, o.tls);
      const tcp = await buildApi(services, { kind: "tls", key: tls.key, cert: tls.cert });
      await tcp.listen({ host: host === "" ? "127.0.0.1" : host, port });
      daemon.tcpPort = (tcp.server.address() as AddressInfo).port;
      daemon.certFile = tls.certFile;
      daemon.apps.push(tcp);
    }
    if (o.prewarm !== undefined && o.prewarm > 0) Vm.prewarm(o.prewarm, DEFAULT_RESOURCE_LIMITS);
    // Only now, so a network's NAT and a guest NIC know the API port they must not reach.
    for (const failure of await hypervisor.networks.openAll()) o.logger.error(failure, "a network's switch did not open");
    for (const failure of await hypervisor.autostart()) o.logger.error(failure, "autostart failed");
    return daemon;
  }

  /** Stops listening, then stops (or saves, then stops) every VM. */
  async close(mode: ShutdownMode): Promise<void> {
    await Promise.all(this.apps.map((app) => app.close()));
    await this.hypervisor.shutdown(mode);
    await this.audit.close();
    Vm.prewarm(0);
  }
}
