/**
 * A NIC of a VM that runs in a browser tab, bridged by the daemon: the
 * tab's WebSocket carries one Ethernet frame per binary message each way,
 * and the daemon plays the NIC's host side as the VM's own worker did — a
 * port of the network's switch (frames keep the VM's MAC, so its DHCP
 * lease and the network's forwards still reach it), or the user-mode NAT
 * of a `user` NIC (its port forwards bound here). A reconnecting tab
 * replaces its previous bridge; moving the VM back ends it.
 */
import type { WebSocket } from "ws";
import type { ActiveLease } from "../hypervisor/browser/lease.ts";
import { MAX_FRAME } from "../devices/virtio/net.ts";
import { ethernet } from "../vmm/build.ts";

/** Frames the tab has not taken yet beyond this are dropped (a NIC loses frames rather than queueing without end). */
const MAX_UNSENT = 4 * 2 ** 20;

export function serveBrowserNic(socket: WebSocket, lease: ActiveLease, index: number): void {
  const backend = ethernet({ ...lease.nic(index), dump: undefined });
  backend.onReceive((frame) => {
    if (socket.readyState === socket.OPEN && socket.bufferedAmount < MAX_UNSENT) socket.send(Buffer.from(frame), { binary: true });
  });
  const detach = lease.attachBridge(index, () => socket.close(1001, "the VM has moved"));
  socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary && frame.length >= 14 && frame.length <= MAX_FRAME) backend.send(frame);
  });
  let closed = false;
  const end = () => {
    if (closed) return;
    closed = true;
    detach();
    backend.close?.();
  };
  socket.on("close", end);
  socket.on("error", end);
  backend.ready?.().catch((e: Error) => socket.close(1011, e.message.slice(0, 120)));
}
