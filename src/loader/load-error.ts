/** A boot image that cannot be placed in the guest; the message names the file and the problem. */
export class LoadError extends Error {
  override name = "LoadError";
}
