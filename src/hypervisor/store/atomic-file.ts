/**
 * Files a crash cannot leave half-written: the bytes go to a temporary file
 * beside the target, are fsynced, renamed over it, and the directory is
 * fsynced so the rename itself survives a power cut. A reader sees the old
 * file or the new one, never a mix.
 */
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const file = await open(tmp, "w", mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } catch (e) {
    await file.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await file.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** fsync a directory, so entries renamed or removed in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
