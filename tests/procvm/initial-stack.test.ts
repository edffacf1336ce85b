import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { AddressSpace, PAGE_SIZE, PIE_BASE, STACK_TOP } from "../../src/procvm/address-space.ts";
import { ExecError, execImage, parseShebang } from "../../src/procvm/exec-image.ts";
import {
  AT_BASE, AT_ENTRY, AT_EXECFN, AT_HWCAP, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHNUM, AT_RANDOM, AT_SECURE, AT_UID,
  RISCV_HWCAP, buildInitialStack,
} from "../../src/procvm/initial-stack.ts";
import { PhysPages } from "../../src/procvm/phys-pages.ts";
import { SYSROOT, compile, requireTools } from "./helpers.ts";

const enc = new TextEncoder();

function u64(b: Uint8Array, off: number): number {
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(off, true));
}

function cstr(b: Uint8Array, off: number): string {
  return new TextDecoder().decode(b.subarray(off, b.indexOf(0, off)));
}

test("the initial stack has argc, argv, envp, auxv and strings where Linux puts them", () => {
  const top = 0x4000_0000;
  const random = new Uint8Array(16).fill(0xab);
  const img = buildInitialStack({
    top,
    argv: [enc.encode("prog"), enc.encode("arg one")],
    envp: [enc.encode("A=1")],
    execfn: enc.encode("/bin/prog"),
    random,
    auxv: [[AT_HWCAP, RISCV_HWCAP], [AT_PAGESZ, 4096], [AT_SECURE, 0]],
  });
  const b = img.bytes;
  const at = (addr: number) => addr - img.sp;
  assert.equal(img.sp % 16, 0, "sp is 16-byte aligned");
  assert.equal(img.sp + b.length, top);
  assert.equal(u64(b, 0), 2, "argc");
  assert.equal(img.argvAddr, img.sp + 8);
  assert.equal(cstr(b, at(u64(b, 8))), "prog");
  assert.equal(cstr(b, at(u64(b, 16))), "arg one");
  assert.equal(u64(b, 24), 0, "argv terminator");
  assert.equal(img.envpAddr, img.sp + 32);
  assert.equal(cstr(b, at(u64(b, 32))), "A=1");
  assert.equal(u64(b, 40), 0, "envp terminator");
  const aux: Array<[number, number]> = [];
  for (let o = 48; ; o += 16) {
    aux.push([u64(b, o), u64(b, o + 8)]);
    if (u64(b, o) === AT_NULL) break;
  }
  assert.deepEqual(aux.map(([t]) => t), [AT_HWCAP, AT_PAGESZ, AT_SECURE, AT_RANDOM, AT_EXECFN, AT_NULL]);
  assert.equal(RISCV_HWCAP, 0x112d, "rv64imafdc");
  const rnd = aux.find(([t]) => t === AT_RANDOM)![1];
  assert.deepEqual([...b.subarray(at(rnd), at(rnd) + 16)], [...random]);
  assert.equal(cstr(b, at(aux.find(([t]) => t === AT_EXECFN)![1])), "/bin/prog");
  assert.ok(u64(b, 8) > rnd, "strings sit above the random bytes");
  assert.deepEqual([...b.subarray(b.length - 8)], [0, 0, 0, 0, 0, 0, 0, 0], "8 zero bytes at the very top");
  const strings = u64(b, 8);
  assert.equal(cstr(b, at(strings) + 5), "arg one", "argument strings are contiguous");
});

test("#! lines split like Linux binfmt_script: interpreter and one optional argument", () => {
  assert.deepEqual(parseShebang(enc.encode("#!/bin/sh\necho")), { interpreter: "/bin/sh", arg: null });
  assert.deepEqual(parseShebang(enc.encode("#! /usr/bin/env  python3 -u \n")), { interpreter: "/usr/bin/env", arg: "python3 -u" });
  assert.deepEqual(parseShebang(enc.encode("#!/bin/busybox sh")), { interpreter: "/bin/busybox", arg: "sh" });
  assert.equal(parseShebang(enc.encode("#!   \n")), null);
});

function readAuxv(s: AddressSpace, sp: number): Map<number, number> {
  const argc = s.readU64(sp)!;
  let o = sp + 8 * (1 + argc + 1);
  while (s.readU64(o) !== 0) o += 8;
  const auxv = new Map<number, number>();
  for (o += 8; ; o += 16) {
    const t = s.readU64(o)!;
    if (t === AT_NULL) return auxv;
    auxv.set(t, s.readU64(o + 8)!);
  }
}

const hostFiles = {
  readExecutable: (p: string) => {
    const host = p.startsWith("/lib/") ? SYSROOT + p : p;
    return { bytes: new Uint8Array(fs.readFileSync(host)), hostPath: host };
  },
};

test("execve image of a static program: stack, auxv, segments, trampoline", () => {
  requireTools();
  const bin = compile("startup", "static");
  const phys = new PhysPages(new Uint8Array(64 << 20));
  const r = execImage(phys, hostFiles, bin, ["startup", "x"], ["K=V"], { uid: 5, euid: 5, gid: 6, egid: 6 });
  const s: AddressSpace = r.space;
  assert.equal(s.readU64(r.sp), 2);
  assert.ok(r.sp < STACK_TOP && STACK_TOP - r.sp < PAGE_SIZE);
  const auxv = readAuxv(s, r.sp);
  assert.equal(auxv.get(AT_BASE), 0, "static: no interpreter");
  assert.equal(auxv.get(AT_UID), 5);
  assert.equal(auxv.get(AT_ENTRY), r.pc, "starts at the program's entry");
  assert.ok(r.pc < PIE_BASE, "ET_EXEC at its link address");
  assert.ok(auxv.get(AT_PHNUM)! > 2);
  const file = fs.readFileSync(bin);
  const phoff = Number(file.readBigUInt64LE(32));
  const phnum = auxv.get(AT_PHNUM)!;
  assert.deepEqual(s.read(auxv.get(AT_PHDR)!, phnum * 56), new Uint8Array(file.subarray(phoff, phoff + phnum * 56)),
    "AT_PHDR points at a copy of the program headers");
  assert.notEqual(s.read(r.pc, 2), null, "entry is mapped");
  assert.equal(s.write(r.pc, new Uint8Array(1)), false, "text is not writable");
  assert.deepEqual([...s.read(r.sigreturn, 8)!], [0x93, 0x08, 0xb0, 0x08, 0x73, 0, 0, 0], "li a7, 139; ecall");
  assert.ok(s.brkStart > auxv.get(AT_ENTRY)! && s.brkStart % PAGE_SIZE === 0, "break starts after the image");
  s.destroy();
  assert.equal(phys.used, 0);
});

test("execve image of a dynamic PIE: loaded at ELF_ET_DYN_BASE, entered through ld.so", () => {
  requireTools();
  const bin = compile("startup", "dynamic");
  const phys = new PhysPages(new Uint8Array(64 << 20));
  const r = execImage(phys, hostFiles, bin, ["startup"], [], { uid: 0, euid: 0, gid: 0, egid: 0 });
  const auxv = readAuxv(r.space, r.sp);
  const base = auxv.get(AT_BASE)!;
  assert.ok(base > PIE_BASE, "the interpreter is mapped top-down, above the program");
  assert.ok(auxv.get(AT_ENTRY)! > PIE_BASE && auxv.get(AT_ENTRY)! < PIE_BASE + (1 << 20));
  assert.ok(r.pc > base, "first instruction is ld.so's");
  assert.equal(r.space.readU32(auxv.get(AT_PHDR)!), 6, "PT_PHDR comes first in a PIE");
  assert.deepEqual([...r.space.read(base, 4)!], [0x7f, 0x45, 0x4c, 0x46], "ld.so's ELF header is mapped at AT_BASE");
  r.space.destroy();
});

test("exec errors carry the errno execve returns", () => {
  const phys = new PhysPages(new Uint8Array(1 << 20));
  const files = (bytes: Uint8Array) => ({ readExecutable: () => ({ bytes, hostPath: "/x" }) });
  const attempt = (bytes: Uint8Array) => {
    try {
      execImage(phys, files(bytes), "/x", ["x"], [], { uid: 0, euid: 0, gid: 0, egid: 0 });
      return "ok";
    } catch (e) {
      assert.ok(e instanceof ExecError);
      return e.errno;
    }
  };
  assert.equal(attempt(enc.encode("plain text")), "ENOEXEC");
  const x86 = new Uint8Array(64);
  x86.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  new DataView(x86.buffer).setUint16(16, 2, true);
  new DataView(x86.buffer).setUint16(18, 62, true);
  new DataView(x86.buffer).setUint32(20, 1, true);
  assert.equal(attempt(x86), "ENOEXEC");
  assert.equal(attempt(enc.encode("#!/x\n")), "ELOOP", "a script interpreting itself");
});

