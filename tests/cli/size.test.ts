import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSize } from "../../src/cli/size.ts";

test("-m sizes as QEMU takes them", () => {
  assert.equal(parseSize("256M"), 256 * 2 ** 20);
  assert.equal(parseSize("512"), 512 * 2 ** 20, "a plain number is MiB");
  assert.equal(parseSize("1G"), 2 ** 30);
  assert.equal(parseSize("1.5g"), 1.5 * 2 ** 30);
  assert.equal(parseSize("1048576K"), 2 ** 30);
  assert.equal(parseSize("2GiB"), 2 ** 31);
  assert.equal(parseSize("size=2G"), 2 ** 31, "QEMU's -m size=2G");
  for (const bad of ["lots", "", "1X", "-1M", "size=", "1.0000001K"]) assert.equal(parseSize(bad), null, bad);
});
