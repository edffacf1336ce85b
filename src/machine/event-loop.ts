/**
 * One turn of the host event loop for the run loop, so messages, timers,
 * fetches and sockets are served between slices. Node has setImmediate; a
 * browser worker's setTimeout(0) is clamped to 4 ms once nested, which
 * would idle a busy guest a third of the time, so there a MessageChannel
 * message (not clamped) ends the turn.
 */
const immediate = (globalThis as { setImmediate?: (cb: () => void) => unknown }).setImmediate;

let channel: MessageChannel | null = null;
const waiting: (() => void)[] = [];

function viaChannel(resolve: () => void): void {
  if (channel === null) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
  }
  waiting.push(resolve);
  channel.port2.postMessage(null);
}

export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => (immediate !== undefined ? immediate(resolve) : viaChannel(resolve)));
}
