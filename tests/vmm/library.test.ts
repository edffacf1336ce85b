// The library as a user gets it: `npm pack`, install the tarball into a
// fresh plain Node 20 ESM project (dependencies from the npm cache), then
// run docs/library.md's example there — boot the default guest, run a shell
// command, save, fork, restore — and type-check a TypeScript file against
// the package's declarations.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../support/toolchain.ts";

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), "typevisor-library-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The first ```js block of docs/library.md: the example users copy. */
function docsExample(): string {
  const m = /```js\n([^]*?)```/.exec(readFileSync(join(REPO_ROOT, "docs", "library.md"), "utf8"));
  assert.ok(m, "docs/library.md has a ```js example");
  return m[1];
}

const TYPE_CHECK = `
import { Vm, GuestShell, defaultGuestConfig, ConfigError, type VmConfig, type VmState, type SnapshotInfo } from "typevisor";

async function saveOne(config: VmConfig): Promise<SnapshotInfo> {
  const vm: Vm = await Vm.create(config);
  const state: VmState = vm.state;
  vm.on("exit", (code: number) => console.log(code, state));
  const shell = new GuestShell(vm);
  const { output, status }: { output: string; status: number } = await shell.run("true");
  console.log(output, status, ConfigError.name);
  return vm.save("file.snap");
}
void saveOne(await defaultGuestConfig());
// @ts-expect-error: not a VM state
const flying: VmState = "flying";
void flying;
`;

test("npm pack → install in a plain ESM project → the docs example boots, runs a command, saves, forks, restores; the types check", async () => {
  const packed = await run("npm", ["pack", "--pack-destination", tmp], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  const tarball = join(tmp, packed.stdout.trim().split("\n").at(-1)!);
  const project = join(tmp, "project");
  await run("mkdir", [project]);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-typevisor", version: "1.0.0", private: true, type: "module" }));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: project, maxBuffer: 64 << 20 });

  writeFileSync(join(project, "example.mjs"), docsExample());
  const example = await run(process.execPath, ["example.mjs"], { cwd: project, maxBuffer: 64 << 20 });
  console.log(example.stdout);
  assert.match(example.stdout, /^kernel: 6\.1\.\d+$/m);
  assert.match(example.stdout, /^saved: \d+ RAM pages$/m);
  assert.match(example.stdout, /^original: kept$/m);
  assert.match(example.stdout, /^copy: only-in-the-copy$/m);
  assert.match(example.stdout, /^restored: kept$/m);

  writeFileSync(join(project, "check.ts"), TYPE_CHECK);
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const types = ["--typeRoots", join(REPO_ROOT, "node_modules", "@types"), "--types", "node"];
  const flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", ...types, "check.ts"];
  await run(process.execPath, [tsc, ...flags], { cwd: project }).catch((e: { stdout: string }) => assert.fail(`tsc:\n${e.stdout}`));
});
