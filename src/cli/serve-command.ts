/**
 * `typevisor serve`: the hypervisor daemon in the foreground (for systemd):
 * JSON-lines logs on stdout (pino), the API on <data-dir>/api.sock and, with
 * --listen, on TCP+TLS. SIGTERM or SIGINT stops every VM (or saves it with
 * --on-shutdown save, so the next start resumes it) and exits 0.
 */
import type { Command } from "commander";
import { pino } from "pino";
import { Daemon } from "../api/daemon.ts";
import { defaultDataDir } from "./client/endpoint.ts";
import type { ShutdownMode } from "../hypervisor/hypervisor.ts";

interface ServeFlags {
  dataDir: string;
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  onShutdown: string;
  overcommit: string;
  logLevel: string;
  prewarm: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the hypervisor daemon in the foreground (REST API on a Unix socket, optionally TCP+TLS)")
    .option("--data-dir <dir>", "state directory (VMs, images, networks, snapshots, tokens)", defaultDataDir())
    .option("--listen <host:port>", "also listen on TCP with TLS (tokens required)")
    .option("--tls-cert <file>", "certificate for --listen (default: generated into <data-dir>/tls/)")
    .option("--tls-key <file>", "private key for --tls-cert")
    .option("--on-shutdown <mode>", "what SIGTERM does to running VMs: stop or save", "stop")
    .option("--overcommit <ratio>", "guest RAM and vCPUs may add up to this times the host's", "1")
    .option("--log-level <level>", "pino level: trace, debug, info, warn, error", "info")
    .option("--prewarm <n>", "worker threads kept started ahead of VM starts (faster starts, ~30 MiB each)", "1")
    .action(async (flags: ServeFlags) => {
      if (flags.onShutdown !== "stop" && flags.onShutdown !== "save") throw new Error(`--on-shutdown ${flags.onShutdown}: expected stop or save`);
      const ratio = Number(flags.overcommit);
      if (!(ratio > 0 && ratio <= 64)) throw new Error(`--overcommit ${flags.overcommit}: expected a ratio above 0 (e.g. 1.5)`);
      const prewarm = Number(flags.prewarm);
      if (!Number.isInteger(prewarm) || prewarm < 0 || prewarm > 64) throw new Error(`--prewarm ${flags.prewarm}: expected 0 to 64 workers`);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new Error("--tls-cert and --tls-key go together");
      const logger = pino({ level: flags.logLevel, base: { pid: process.pid } });
      const daemon = await Daemon.start({
        dataDir: flags.dataDir,
        logger,
        listen: flags.listen,
        tls: flags.tlsCert === undefined ? undefined : { certFile: flags.tlsCert, keyFile: flags.tlsKey! },
        overcommitRatio: ratio,
        prewarm,
      });
      logger.info({ socket: daemon.socketPath, tcpPort: daemon.tcpPort, cert: daemon.certFile, dataDir: flags.dataDir }, "typevisor daemon ready");
      await new Promise<void>((resolve) => {
        let closing = false;
        const stop = (signal: string) => {
          if (closing) return;
          closing = true;
          logger.info({ signal, onShutdown: flags.onShutdown }, "shutting down");
          daemon.close(flags.onShutdown as ShutdownMode).then(resolve, (e: Error) => {
            logger.error({ err: e }, "shutdown failed");
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      logger.info("stopped");
      logger.flush();
      process.exit(0);
    });
}
