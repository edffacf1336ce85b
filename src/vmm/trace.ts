// THROWAWAY: timestamps on both sides of the worker boundary.
import { appendFileSync } from "node:fs";
import { isMainThread, threadId } from "node:worker_threads";
const on = process.env.TV_TRACE !== undefined;
export function trace(label: string): void {
  if (!on) return;
  appendFileSync(process.env.TV_TRACE!, `${(performance.timeOrigin + performance.now()).toFixed(3)} ${isMainThread ? "host" : "w" + threadId} ${label} @${performance.now().toFixed(0)}\n`);
}
