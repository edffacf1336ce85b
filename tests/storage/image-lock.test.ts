import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { openImage } from "../../src/backends/block/open-image.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { run, scratchDir, TYPEVISOR } from "./helpers.ts";

test("a writable image is locked: a second writer is refused, readers share, close unlocks", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "d.qcow2");
  createQcow2(file, { size: 2 ** 20 });
  const writer = openImage(file, { readOnly: false });
  assert.ok(fs.existsSync(`${file}.lock`));
  assert.throws(() => openImage(file, { readOnly: false }), /already open for writing in this process/);
  const r1 = openImage(file, { readOnly: true });
  const r2 = openImage(file, { readOnly: true });
  assert.equal(r1.size, r2.size);
  r1.close();
  r2.close();
  writer.close();
  assert.ok(!fs.existsSync(`${file}.lock`), "closing removes the lock file");
  openImage(file, { readOnly: false }).close();
  const raw = path.join(dir, "r.img");
  fs.writeFileSync(raw, new Uint8Array(4096));
  const rawWriter = openImage(raw, { readOnly: false });
  assert.throws(() => openImage(raw, { readOnly: false }), /already open for writing/);
  rawWriter.close();
});

test("another process's lock refuses writers until that process dies (kill -9 leaves a stale lock we take over)", async (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "d.qcow2");
  createQcow2(file, { size: 2 ** 20 });
  const holder = spawn(
    process.execPath,
    ["--import", "tsx", "-e", `
      import("${path.resolve("src/backends/block/open-image.ts")}").then(({ openImage }) => {
        openImage(${JSON.stringify(file)}, { readOnly: false });
        console.log("locked");
        setInterval(() => {}, 1000);
      });`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  t.after(() => holder.kill("SIGKILL"));
  await new Promise<void>((resolve) => holder.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve()));
  assert.throws(() => openImage(file, { readOnly: false }), new RegExp(`in use for writing by process ${holder.pid} \\(lock file .*d\\.qcow2\\.lock\\)`));
  const cli = run(TYPEVISOR, ["img", "snapshot", "-c", "s", file]);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /^typevisor: .*d\.qcow2 is in use for writing by process \d+/);
  assert.equal(run(TYPEVISOR, ["img", "info", file]).status, 0, "readers are not blocked");
  holder.kill("SIGKILL");
  await new Promise((resolve) => holder.on("exit", resolve));
  assert.ok(fs.existsSync(`${file}.lock`), "kill -9 left the lock file behind");
  const again = openImage(file, { readOnly: false });
  again.close();
});
