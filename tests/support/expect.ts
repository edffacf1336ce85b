/**
 * Assertions on a finished bare-metal run.
 */
import assert from "node:assert/strict";
import { describeRun, type RunResult } from "./run.ts";

/** The run reached the finisher with 0x5555 after printing the harness's PASS line. */
export function assertPassed(r: RunResult, what: string): void {
  const ok = !r.hung && r.exitCode === 0 && /(^|\n)PASS\n/.test(r.stdout);
  if (!ok) {
    const failLine = /FAIL[^\n]*/.exec(r.stdout)?.[0];
    const headline = failLine
      ? `${what} on ${r.target}: ${failLine}`
      : `${what} on ${r.target}: did not pass`;
    assert.fail(`${headline}\n${describeRun(r)}`);
  }
}

/** "REPORT key 0x..." lines printed by the harness's REPORT macro. */
export function reports(stdout: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const m of stdout.matchAll(/^REPORT (\S+) (0x[0-9a-f]+)$/gm)) out.set(m[1]!, BigInt(m[2]!));
  return out;
}
