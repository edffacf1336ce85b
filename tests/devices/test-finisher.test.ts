import { test } from "node:test";
import assert from "node:assert/strict";
import { TestFinisher, type ExitRequest } from "../../src/devices/test-finisher.ts";

function finisher(): { dev: TestFinisher; requests: ExitRequest[] } {
  const requests: ExitRequest[] = [];
  return { dev: new TestFinisher((r) => requests.push(r)), requests };
}

test("0x5555 powers off with status 0", () => {
  const { dev, requests } = finisher();
  dev.write(0, 4, 0x5555);
  assert.deepEqual(requests, [{ kind: "poweroff", code: 0 }]);
});

test("(code << 16) | 0x3333 fails with that code", () => {
  const { dev, requests } = finisher();
  dev.write(0, 4, (3 << 16) | 0x3333);
  dev.write(0, 4, (0xffff << 16) | 0x3333);
  assert.deepEqual(requests, [
    { kind: "poweroff", code: 3 },
    { kind: "poweroff", code: 0xffff },
  ]);
});

test("0x7777 requests a reset", () => {
  const { dev, requests } = finisher();
  dev.write(0, 4, 0x7777);
  assert.deepEqual(requests, [{ kind: "reset" }]);
});

test("a 16-bit write works (code 0), other values, offsets and bytes are ignored", () => {
  const { dev, requests } = finisher();
  dev.write(0, 2, 0x5555);
  dev.write(0, 4, 0x1234);
  dev.write(4, 4, 0x5555);
  dev.write(0, 1, 0x55);
  dev.write(0xfff, 1, 0xff);
  assert.deepEqual(requests, [{ kind: "poweroff", code: 0 }]);
  assert.equal(dev.read(0, 4), 0);
});

test("state saves and restores; a wrong version is refused", () => {
  const { dev } = finisher();
  dev.restore(dev.save());
  assert.throws(() => dev.restore({ v: 2 } as never), /test: cannot restore state version 2/);
});
