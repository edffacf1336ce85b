/**
 * Corks a socket until the current turn of the event loop ends, so the
 * frames or segments written during one turn (one slice of the guest's run
 * loop, say) leave in one writev instead of a system call each.
 */
import type { Writable } from "node:stream";

export class TurnCork {
  private corked = false;

  constructor(private readonly socket: Writable) {}

  /** Call before each write. */
  hold(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(this.release);
  }

  private readonly release = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}
