/** The in-guest workloads the guest benchmarks time (bench/guest-workloads.ts, bench/tab.ts). */

export interface Workload {
  name: string;
  /** The shell command line at this scale. */
  command: string;
}

/** Every size and count multiplied by `scale`, identically for every target. */
export function workloads(scale: number): Workload[] {
  const n = (full: number) => Math.max(1, Math.round(full * scale));
  return [
    { name: "sha256", command: `dd if=/dev/zero bs=1M count=${n(64)} 2>/dev/null | sha256sum` },
    { name: "gzip", command: `dd if=/dev/zero bs=1M count=${n(32)} 2>/dev/null | gzip -c | wc -c` },
    { name: "loop", command: `i=0; while [ $i -lt ${n(200000)} ]; do i=$((i+1)); done; echo $i` },
  ];
}
