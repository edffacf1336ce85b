/** A snapshot file or image that cannot be read, written or restored; the message says why in one line. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}
