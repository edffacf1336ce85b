/**
 * A VM's serial console over a WebSocket: binary frames both ways. A new
 * viewer first gets the scrollback, then live output; the connection
 * outlives stops and starts of the VM. Input is typed only for a principal
 * with vm.console.write (others' frames are dropped). A viewer that does
 * not keep up (over 4 MiB unsent) is disconnected rather than letting its
 * backlog grow in the daemon.
 */
import type { WebSocket } from "ws";
import { can, type Principal } from "../hypervisor/auth/index.ts";
import type { VmSupervisor } from "../hypervisor/vm-supervisor.ts";

const MAX_UNSENT = 4 * 2 ** 20;

export function serveConsole(socket: WebSocket, vm: VmSupervisor, principal: Principal): void {
  const mayWrite = can(principal, "vm.console.write", vm.name);
  const send = (chunk: Buffer) => {
    if (socket.bufferedAmount > MAX_UNSENT) {
      socket.close(1013, "console viewer too slow");
      return;
    }
    socket.send(chunk, { binary: true });
  };
  const history = vm.scrollback.contents();
  if (history.length > 0) send(history);
  const unsubscribe = vm.watchConsole(send);
  socket.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    if (!mayWrite) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    vm.writeConsole(bytes).catch(() => {}); // a stopped VM takes no input
  });
  socket.on("close", unsubscribe);
  socket.on("error", unsubscribe);
}
