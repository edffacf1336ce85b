/**
 * A persisted collection: one JSON file per object (`<dir>/<key>.json`),
 * each written atomically, so a crash mid-write loses at most the change
 * being made and never damages another object. Loaded whole at start; a
 * file that does not parse is skipped with a warning (and kept for a person
 * to look at), not a reason to refuse to start.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { syncDir, writeFileAtomic } from "./atomic-file.ts";

export class JsonCollection<T> {
  private readonly items = new Map<string, T>();

  constructor(
    private readonly dir: string,
    private readonly warn: (message: string) => void = () => {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const file of readdirSync(dir)) {
      if (!file.endsWith(".json") || file.startsWith(".")) continue; // .tmp leftovers of a crash are ignored
      try {
        this.items.set(file.slice(0, -5), JSON.parse(readFileSync(join(dir, file), "utf8")) as T);
      } catch (e) {
        warn(`skipping ${join(dir, file)}: ${(e as Error).message}`);
      }
    }
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  values(): T[] {
    return [...this.items.values()];
  }

  async put(key: string, value: T): Promise<void> {
    this.items.set(key, value);
    await writeFileAtomic(join(this.dir, `${key}.json`), `${JSON.stringify(value, null, 2)}\n`);
  }

  async delete(key: string): Promise<void> {
    this.items.delete(key);
    await unlink(join(this.dir, `${key}.json`)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await syncDir(this.dir);
  }
}
