/**
 * Recognises boot files that are certainly not a RISC-V payload, so that
 * `--kernel`/`--bios` refuse them with a reason instead of jumping into
 * bytes that would only crash the guest (QEMU loads any non-ELF file raw).
 */

/** What `bytes` is, when it is a known format that cannot run here; else null. */
export function foreignImageKind(bytes: Uint8Array): string | null {
  const u32le = (off: number) =>
    off + 4 <= bytes.length ? (bytes[off] | (bytes[off + 1] << 8) | (bytes[off + 2] << 16) | (bytes[off + 3] << 24)) >>> 0 : -1;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return "a gzip-compressed file (decompress it first, e.g. gunzip Image.gz)";
  if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) return "a zstd-compressed file (decompress it first)";
  if (bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68) return "a bzip2-compressed file (decompress it first)";
  if (u32le(0) === 0x56190527) return "a U-Boot uImage (give the kernel Image inside it)";
  if (u32le(0x38) === 0x644d5241) return "an ARM64 Linux Image, not RISC-V";
  if (u32le(0x202) === 0x53726448) return "an x86 Linux bzImage, not RISC-V";
  if (u32le(0x24) === 0x016f2818) return "an ARM zImage, not RISC-V";
  return null;
}
