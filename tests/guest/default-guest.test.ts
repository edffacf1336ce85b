// The guest image cache: named by the recipe hash, complete once present,
// and free to reuse. Builds the guest first when the cache lacks it.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  defaultGuestCachePath,
  ensureDefaultGuest,
  readDefaultGuestManifest,
  type DefaultGuest,
} from "../../src/guest/default-guest.ts";

const BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/guest/build.sh", import.meta.url));

describe("default guest cache", () => {
  let guest: DefaultGuest;

  before(async () => {
    guest = await ensureDefaultGuest();
  });

  test("lives under TYPEVISOR_CACHE, named by a 16-digit recipe hash", () => {
    const result = spawnSync("bash", [BUILD_SCRIPT, "--print-cache-dir"], {
      encoding: "utf8",
      env: { ...process.env, TYPEVISOR_CACHE: "/nonexistent/typevisor-cache" },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\/nonexistent\/typevisor-cache\/guest\/[0-9a-f]{16}\n$/);
    assert.equal(basename(result.stdout.trim()), basename(defaultGuestCachePath()));
  });

  test("returns the cached guest's files", () => {
    assert.equal(guest.dir, defaultGuestCachePath());
    assert.equal(dirname(guest.kernel), guest.dir);
    const manifest = readDefaultGuestManifest(guest.dir);
    assert.equal(manifest.recipeHash, basename(guest.dir));
    for (const [path, name] of [[guest.kernel, "Image"], [guest.initrd, "initramfs.cpio.gz"], [guest.disk, "data.ext4"]]) {
      assert.equal(basename(path), name);
      assert.equal(statSync(path).size, manifest.files[name].bytes, `${name} has the size the manifest records`);
    }
    const kernelHash = createHash("sha256").update(readFileSync(guest.kernel)).digest("hex");
    assert.equal(kernelHash, manifest.files.Image.sha256);
  });

  test("a second build with the same recipe does nothing and prints the cache dir", () => {
    const started = Date.now();
    const result = spawnSync("bash", [BUILD_SCRIPT], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim().split("\n").at(-1), guest.dir);
    assert.equal(result.stderr, "");
    assert.ok(Date.now() - started < 10_000, "a cache hit takes no build time");
  });

  test("the kernel config fragment survived Kconfig", () => {
    const config = readFileSync(join(guest.dir, "kernel-config"), "utf8");
    for (const option of ["CONFIG_SOC_VIRT=y", "CONFIG_FPU=y", "CONFIG_VIRTIO_MMIO=y", "CONFIG_EXT4_FS=y"]) {
      assert.ok(config.includes(`\n${option}\n`), `${option} is set`);
    }
    assert.ok(config.includes("\n# CONFIG_MODULES is not set\n"));
  });
});
