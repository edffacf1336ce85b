/**
 * Slows down token guessing: after `maxFailures` failed authentications from
 * one key (a client address) within `windowSeconds`, the key is refused for
 * `lockoutSeconds`, doubling with each lockout up to `maxLockoutSeconds`.
 * Memory is bounded: at most `maxKeys` keys, the least recently failed one
 * forgotten first.
 */
export interface ThrottleOptions {
  maxFailures?: number;
  windowSeconds?: number;
  lockoutSeconds?: number;
  maxLockoutSeconds?: number;
  maxKeys?: number;
  now?: () => number;
}

interface Entry { failures: number; windowStart: number; lockedUntil: number; lockouts: number }

export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockoutMs: number;
  private readonly maxLockoutMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(o: ThrottleOptions = {}) {
    this.maxFailures = o.maxFailures ?? 10;
    this.windowMs = (o.windowSeconds ?? 60) * 1000;
    this.lockoutMs = (o.lockoutSeconds ?? 30) * 1000;
    this.maxLockoutMs = (o.maxLockoutSeconds ?? 900) * 1000;
    this.maxKeys = o.maxKeys ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  check(key: string): { allowed: boolean; retryAfterSeconds: number } {
    const e = this.entries.get(key);
    const wait = e ? e.lockedUntil - this.now() : 0;
    return wait > 0 ? { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) } : { allowed: true, retryAfterSeconds: 0 };
  }

  failed(key: string): void {
    const now = this.now();
    let e = this.entries.get(key);
    if (e) this.entries.delete(key); // re-inserted below: Map order is then least recently failed first
    else e = { failures: 0, windowStart: now, lockedUntil: 0, lockouts: 0 };
    if (now - e.windowStart > this.windowMs) {
      e.failures = 0;
      e.windowStart = now;
    }
    e.failures++;
    if (e.failures >= this.maxFailures) {
      e.lockedUntil = now + Math.min(this.maxLockoutMs, this.lockoutMs * 2 ** Math.min(e.lockouts, 30));
      e.lockouts++;
      e.failures = 0;
      e.windowStart = now;
    }
    this.entries.set(key, e);
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
