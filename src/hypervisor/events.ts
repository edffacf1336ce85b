/** The daemon's event stream: state changes, creations, deletions, jobs (served as SSE at /v1/events). */
import { EventEmitter } from "node:events";

export interface HostEvent {
  type: "vm.state" | "vm.created" | "vm.deleted" | "vm.updated" | "job" | "image.created" | "image.deleted" | "network.created" | "network.deleted";
  vm?: string;
  state?: string;
  /** vm.state: where the VM runs. */
  location?: "host" | "browser";
  job?: unknown;
  name?: string;
  time: string;
}

export class EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(event: Omit<HostEvent, "time">): void {
    this.emitter.emit("event", { ...event, time: new Date().toISOString() });
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: HostEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }
}
