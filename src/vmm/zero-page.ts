/** Whole-page zero checks over guest RAM, a word at a time. */
const views = new WeakMap<Uint8Array, Int32Array>();

/** Whether RAM page `page` (4 KiB at page * 4096 in `ram`) is all zero; non-zero pages usually answer in the first words. */
export function isZeroPage(ram: Uint8Array, page: number): boolean {
  let words = views.get(ram);
  if (words === undefined) {
    words = new Int32Array(ram.buffer, ram.byteOffset, ram.byteLength >>> 2);
    views.set(ram, words);
  }
  const end = (page + 1) * 1024;
  for (let i = page * 1024; i < end; i++) if (words[i] !== 0) return false;
  return true;
}
