/**
 * How virtio-blk's host I/O should run, measured: the same preads done
 * (1) synchronously on the calling thread (what blocks the guest),
 * (2) on libuv's thread pool (fs.read with a callback, into the caller's buffer),
 * (3) by an I/O worker thread over a SharedArrayBuffer (Atomics.notify /
 *     Atomics.waitAsync), copying out of a shared bounce buffer.
 * Queue depth 1 (latency of one request) and 8 (requests in flight).
 *
 *   node --import tsx bench/storage/host-io-modes.ts [--mib 256]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { printTable } from "../stats.ts";

const { values } = parseArgs({ options: { mib: { type: "string", default: "256" } } });
const size = Number(values.mib) * 2 ** 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-host-io-"));
const file = path.join(dir, "disk.raw");
const w = fs.openSync(file, "w");
const chunk = new Uint8Array(2 ** 20).fill(0x5a);
for (let i = 0; i < size; i += chunk.length) fs.writeSync(w, chunk);
fs.closeSync(w);
const fd = fs.openSync(file, "r");
const ram = new Uint8Array(64 * 2 ** 20);

type Job = { io: number; depth: number; count: number };
const seq = (i: number, io: number) => (i * io) % size;
let seed = 1;
const rnd = (_i: number, io: number) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return (seed % (size / io)) * io;
};

function syncRun(j: Job, at: (i: number, io: number) => number): number {
  const t = performance.now();
  for (let i = 0; i < j.count; i++) fs.readSync(fd, ram, (i % 8) * j.io, j.io, at(i, j.io));
  return performance.now() - t;
}

function poolRun(j: Job, at: (i: number, io: number) => number): Promise<number> {
  const t = performance.now();
  return new Promise((resolve) => {
    let issued = 0;
    let done = 0;
    const issue = () => {
      const slot = issued % 8;
      fs.read(fd, ram, slot * j.io, j.io, at(issued++, j.io), () => {
        if (++done === j.count) resolve(performance.now() - t);
        else if (issued < j.count) issue();
      });
    };
    for (let k = 0; k < j.depth && issued < j.count; k++) issue();
  });
}

// The worker: a ring of requests {offset, length, slot} in a SharedArrayBuffer; it preads into
// the shared bounce buffer and bumps `done`.
const WORKER = `
const { workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { ctl, bounce, file } = workerData;
const c = new Int32Array(ctl); const req = new Float64Array(ctl, 64); const b = new Uint8Array(bounce);
const fd = fs.openSync(file, "r");
let next = 0;
for (;;) {
  while (Atomics.load(c, 0) === next) Atomics.wait(c, 0, next);
  const posted = Atomics.load(c, 0);
  while (next !== posted) {
    const k = next % 8; fs.readSync(fd, b, k * req[k * 2 + 1], req[k * 2 + 1], req[k * 2]);
    next++; Atomics.store(c, 1, next); Atomics.notify(c, 1);
  }
}`;

async function workerRun(j: Job, at: (i: number, io: number) => number, wk: { ctl: Int32Array; req: Float64Array; bounce: Uint8Array }): Promise<number> {
  const { ctl, req, bounce } = wk;
  const base = Atomics.load(ctl, 1);
  const t = performance.now();
  let issued = 0;
  let done = 0;
  const issue = () => {
    const k = (base + issued) % 8;
    req[k * 2] = at(issued, j.io);
    req[k * 2 + 1] = j.io;
    issued++;
    Atomics.store(ctl, 0, base + issued);
    Atomics.notify(ctl, 0);
  };
  for (let k = 0; k < j.depth && issued < j.count; k++) issue();
  while (done < j.count) {
    const seen = Atomics.load(ctl, 1) - base;
    if (seen === done) {
      const r = Atomics.waitAsync(ctl, 1, base + done);
      if (r.async) await r.value;
      continue;
    }
    for (; done < seen; done++) {
      const k = (base + done) % 8;
      ram.set(bounce.subarray(k * j.io, k * j.io + j.io), (k % 8) * j.io); // the copy into guest RAM
      if (issued < j.count) issue();
    }
  }
  return performance.now() - t;
}

const ctlBuf = new SharedArrayBuffer(64 + 8 * 16);
const bounceBuf = new SharedArrayBuffer(8 * 2 ** 20);
const worker = new Worker(WORKER, { eval: true, workerData: { ctl: ctlBuf, bounce: bounceBuf, file } });
const wk = { ctl: new Int32Array(ctlBuf), req: new Float64Array(ctlBuf, 64), bounce: new Uint8Array(bounceBuf) };

const rows: string[][] = [];
for (const [name, io, at, count] of [
  ["random 4 KiB", 4096, rnd, 20000],
  ["sequential 1 MiB", 2 ** 20, seq, 512],
] as const) {
  for (const depth of [1, 8]) {
    const j = { io, depth, count };
    const per = (ms: number) => (io === 4096 ? `${Math.round((count / ms) * 1000)} IOPS` : `${((count * io) / ms / 1000).toFixed(0)} MB/s`);
    syncRun(j, at); // warm the page cache
    const s = syncRun(j, at);
    const p = await poolRun(j, at);
    const wr = await workerRun(j, at, wk);
    rows.push([name, String(depth), depth === 1 ? per(s) : "-", per(p), per(wr)]);
  }
}
printTable([["workload", "depth", "sync", "libuv pool", "I/O worker + copy"], ...rows]);
await worker.terminate();
fs.closeSync(fd);
fs.rmSync(dir, { recursive: true });
