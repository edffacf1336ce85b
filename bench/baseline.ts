/**
 * `--baseline DIR` for the network benches: a third target running the
 * typevisor of another checkout (`git worktree add DIR <commit>`, with its
 * node_modules) in the same rounds, so a change is measured before and
 * after under the same host load — on a shared machine the load moves
 * more between runs than most changes do.
 */
import { join } from "node:path";
import type { Command } from "../tests/support/guest-console.ts";

export const BASELINE = "typevisor baseline";

/** bin/typevisor of the checkout at `dir` (TYPEVISOR_BIN's counterpart). */
export function baselineBin(dir: string): string {
  return join(dir, "bin", "typevisor");
}

/** The command with another checkout's bin/typevisor (unchanged when `dir` is undefined). */
export function withBin([node, args]: Command, dir: string | undefined): Command {
  return dir === undefined ? [node, args] : [node, [baselineBin(dir), ...args.slice(1)]];
}
