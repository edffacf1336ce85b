/**
 * Error lines that quote untrusted bytes (an ELF's PT_INTERP, option
 * values, program names, a guest's comm) print them escaped, on one line:
 * escapeText (src/util/escape-text.ts) is the one helper, applied where
 * typevisor writes its messages.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { escapeText } from "../../src/util/escape-text.ts";
import { compile, requireTools, runQemu, runTypevisor, scratchDir } from "./helpers.ts";

/** No raw control characters (C0 but the final newline, DEL, C1) and exactly one line. */
function assertOneSafeLine(text: string, label: string): void {
  assert.match(text, /^[^\n]*\n$/, `${label}: one line: ${JSON.stringify(text)}`);
  assert.doesNotMatch(text.slice(0, -1), /[\x00-\x1f\x7f-\x9f]/, `${label}: raw control characters: ${JSON.stringify(text)}`);
}

test("escapeText: control characters, C1, separators and bidi overrides become visible escapes; idempotent", () => {
  assert.equal(escapeText("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  assert.equal(escapeText("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
  assert.equal(escapeText("\x7f\x9b\u2028\u202e"), "\\x7f\\x9b\\u2028\\u202e");
  assert.equal(escapeText("plain/path with spaces and \\ and é"), "plain/path with spaces and \\ and é");
  const once = escapeText("x\n\x1by");
  assert.equal(escapeText(once), once);
});

/** A dynamically linked program whose PT_INTERP string is changed by `edit`. */
function withInterp(dir: string, name: string, edit: (interp: Uint8Array) => void): string {
  const bytes = new Uint8Array(fs.readFileSync(compile("startup", "dynamic")));
  const needle = Buffer.from("/lib/ld-linux-riscv64-lp64d.so.1\0");
  const at = Buffer.from(bytes).indexOf(needle);
  assert.ok(at > 0, "the program's PT_INTERP string");
  edit(bytes.subarray(at, at + needle.length));
  const out = path.join(dir, name);
  fs.writeFileSync(out, bytes, { mode: 0o755 });
  return out;
}

test("a PT_INTERP without its NUL: one line, 'Invalid PT_INTERP entry' as QEMU, the bytes escaped", () => {
  requireTools();
  const dir = scratchDir();
  try {
    const bin = withInterp(dir, "no-nul", (s) => {
      s[5] = 0x0a;
      s[6] = 0x1b;
      s[s.length - 1] = 0x41;
    });
    const q = runQemu(bin, []);
    assert.match(q.stderr, /Invalid PT_INTERP entry/);
    const t = runTypevisor(bin, []);
    assert.equal(t.status, 1);
    assertOneSafeLine(t.stderr, "no NUL");
    assert.match(t.stderr, /^typevisor: cannot run .*no-nul: Invalid PT_INTERP entry "\/lib\/\\n\\x1b-linux-riscv64/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a PT_INTERP naming a missing file with control characters: one escaped line", () => {
  requireTools();
  const dir = scratchDir();
  try {
    const bin = withInterp(dir, "garbage", (s) => {
      s[4] = 0x0a;
      s[8] = 0x1b;
    });
    const t = runTypevisor(bin, []);
    assert.equal(t.status, 1);
    assertOneSafeLine(t.stderr, "missing interpreter");
    assert.match(t.stderr, /^typevisor: cannot run .*garbage: \/lib\\nld-\\x1binux-riscv64-lp64d\.so\.1: no such file\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("option values, unknown options and program names with control characters are escaped", () => {
  requireTools();
  const prog = compile("startup", "static");
  const cases: Array<[string, string[], RegExp]> = [
    ["-m", ["-m", "1\x1b[2J\nG", prog], /--memory 1\\x1b\[2J\\nG: expected a size/],
    ["-E", ["-E", "NO_EQUALS\x07\r", prog], /-E NO_EQUALS\\x07\\r: expected VAR=VALUE/],
    ["-g", ["-g", "12\x1b]0;title\x07", prog], /-g 12\\x1b\]0;title\\x07: expected a TCP port/],
    ["unknown option", ["--bogus\x1b[5m", prog], /unknown option '--bogus\\x1b\[5m'/],
    ["program", ["no-such-\x1b[31mprogram\n"], /no-such-\\x1b\[31mprogram\\n: not found/],
  ];
  for (const [label, args, want] of cases) {
    const t = runTypevisor(args[args.length - 1], [], { flags: args.slice(0, -1) });
    assert.notEqual(t.status, 0, label);
    assertOneSafeLine(t.stderr, label);
    assert.match(t.stderr, want, label);
  }
});

test("a fault diagnostic escapes the program's name (argv[0] from -0)", () => {
  requireTools();
  const t = runTypevisor(compile("fault", "static"), [], { flags: ["-0", "evil\x1b]0;owned\x07name"] });
  assert.equal(t.status, 139);
  assertOneSafeLine(t.stderr, "fault");
  // comm keeps 15 bytes, as Linux's TASK_COMM_LEN
  assert.match(t.stderr, /^typevisor: evil\\x1b\]0;owned\\x07n\[\d+\]: Segmentation fault/);
});
