/**
 * Why an image cannot be used. Every qcow2 failure is one of these, with a
 * message that names the file and says what is wrong, so callers print one
 * line and go on; nothing in the qcow2 code lets a raw exception escape.
 */
export class ImageError extends Error {
  override name = "ImageError";
}

/** The image's metadata contradicts itself or points outside the file. */
export class CorruptImageError extends ImageError {
  override name = "CorruptImageError";
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
