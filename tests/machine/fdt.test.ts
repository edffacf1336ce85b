import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFdt, FdtError, FdtNode } from "../../src/machine/fdt.ts";
import { decompile, dtbFile, fdtget, indexDts } from "./dts.ts";

function sample(): FdtNode {
  const root = new FdtNode("");
  root.u32("#address-cells", 2).u32("#size-cells", 2).str("compatible", "acme,board");
  const soc = root.addChild("soc");
  soc.u32("#address-cells", 2).empty("ranges");
  soc.addChild("dev@1000").u64("reg", 0x1000, 0x1_0000_0000).str("compatible", "acme,a", "acme,b");
  return root;
}

function header(dtb: Uint8Array): number[] {
  const dv = new DataView(dtb.buffer, dtb.byteOffset);
  return Array.from({ length: 10 }, (_, i) => dv.getUint32(4 * i));
}

test("the header describes a version 17 blob with aligned blocks", () => {
  const dtb = encodeFdt(sample(), { bootCpuId: 3, reservations: [{ address: 0x8000_0000, size: 0x1000 }] });
  const [magic, total, offStruct, offStrings, offRsv, version, lastComp, bootCpu, sizeStrings, sizeStruct] = header(dtb);
  assert.equal(magic, 0xd00dfeed);
  assert.equal(total, dtb.length);
  assert.equal(version, 17);
  assert.equal(lastComp, 16);
  assert.equal(bootCpu, 3);
  assert.equal(offRsv % 8, 0);
  assert.equal(offRsv, 40);
  assert.equal(offStruct, offRsv + 32, "one entry plus the terminator");
  assert.equal(offStruct % 4, 0);
  assert.equal(offStrings, offStruct + sizeStruct);
  assert.equal(offStrings + sizeStrings, total);
  const dv = new DataView(dtb.buffer);
  assert.equal(dv.getUint32(offStruct + sizeStruct - 4), 9, "ends with FDT_END");
});

test("property names are stored once in the strings block", () => {
  const dtb = encodeFdt(sample());
  const [, , , offStrings, , , , , sizeStrings] = header(dtb);
  const strings = Buffer.from(dtb.subarray(offStrings, offStrings + sizeStrings)).toString("latin1").split("\0");
  assert.deepEqual(strings, ["#address-cells", "#size-cells", "compatible", "ranges", "reg", ""]);
});

test("dtc accepts the blob and reads back every node and value", () => {
  const dtb = encodeFdt(sample(), { reservations: [{ address: 0x8000_0000, size: 0x1000 }] });
  const dts = decompile(dtb);
  assert.match(dts, /\/memreserve\/\s+0x0*80000000 0x0*1000;/);
  const index = indexDts(dts);
  assert.deepEqual([...index.keys()], ["/", "/soc", "/soc/dev@1000"]);
  assert.equal(index.get("/")!.get("compatible"), '"acme,board"');
  assert.equal(index.get("/soc")!.get("ranges"), "");
  assert.equal(index.get("/soc/dev@1000")!.get("reg"), "<0x00 0x1000 0x01 0x00>");
  assert.equal(index.get("/soc/dev@1000")!.get("compatible"), '"acme,a\\0acme,b"');
});

test("strings and bytes reach the blob verbatim (nothing escaped)", () => {
  const awkward = 'root=/dev/vda "quoted" back\\slash ; {x} = ü';
  const root = new FdtNode("");
  root.addChild("chosen").str("bootargs", awkward).bytes("seed", new Uint8Array([0, 0xff, 7, 0x22]));
  const path = dtbFile(encodeFdt(root));
  assert.equal(fdtget(path, "/chosen", "bootargs", "s"), awkward);
  assert.equal(fdtget(path, "/chosen", "seed"), "0 ff 7 22");
});

test("names, strings and cells that cannot be represented are rejected", () => {
  assert.throws(() => new FdtNode("bad name"), FdtError);
  assert.throws(() => new FdtNode("a".repeat(32)), FdtError);
  const n = new FdtNode("ok@1");
  assert.throws(() => n.addChild("a") && n.addChild("a"), /duplicate/);
  assert.throws(() => n.str("bootargs", "a\0b"), /NUL/);
  assert.throws(() => n.u32("x", 2 ** 32), FdtError);
  assert.throws(() => n.u32("x", -1), FdtError);
  assert.throws(() => n.u64("x", 2 ** 53), FdtError);
  assert.throws(() => n.empty("bad prop"), FdtError);
  assert.throws(() => encodeFdt(n), /root/);
});
