/**
 * The host's RLIMIT_NOFILE, which the guest's descriptor tables follow.
 * Node raises its own soft limit to the hard one when it starts, so the
 * soft limit read here is the hard one (unless the host refused): a guest
 * starts as if `ulimit -n` had been raised to the hard limit.
 */
import * as fs from "node:fs";

export interface NofileLimit {
  soft: number;
  hard: number;
}

/** Linux's default (INR_OPEN_CUR) when /proc says nothing. */
const FALLBACK: NofileLimit = { soft: 1024, hard: 1024 };

let cached: NofileLimit | null = null;

export function hostNofileLimit(): NofileLimit {
  if (cached !== null) return cached;
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(fs.readFileSync("/proc/self/limits", "latin1"));
    // "unlimited" cannot happen for files (fs.nr_open bounds it); read it as nr_open's default ceiling.
    const n = (v: string) => (v === "unlimited" ? 1 << 20 : Number(v));
    cached = m === null ? FALLBACK : { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    cached = FALLBACK;
  }
  return cached;
}
