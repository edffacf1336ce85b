/**
 * Storage pools: named directories of disk images (raw or qcow2). Pool
 * "default" (<data-dir>/pools/default) always exists. Images are files
 * named by the image name (never a path), created with the storage tools
 * (src/backends/block/tools); import and clone copy through convertImage
 * as jobs with progress. An image a VM's disk names cannot be deleted.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { createImage } from "../backends/block/tools/create-image.ts";
import { convertImage } from "../backends/block/tools/convert.ts";
import { imageInfo } from "../backends/block/tools/image-info.ts";
import { probeFormat, type ImageFormat } from "../backends/block/open-image.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { Jobs } from "./jobs.ts";
import type { JsonCollection } from "./store/json-collection.ts";
import type { ImageCreate, ImageView, JobView, PoolRecord } from "./model.ts";

export const DEFAULT_POOL = "default";

export class Pools {
  constructor(
    private readonly store: JsonCollection<PoolRecord>,
    private readonly defaultPath: string,
    /** Names of the VMs whose disks name `<pool>/<image>`. */
    private readonly usersOf: (image: string) => string[],
    private readonly jobs: Jobs,
    private readonly events: EventBus,
  ) {
    mkdirSync(defaultPath, { recursive: true, mode: 0o700 });
  }

  list(): (PoolRecord & { images: number })[] {
    return this.records().map((p) => ({ ...p, images: this.imageFiles(p.path).length }));
  }

  async create(pool: PoolRecord): Promise<PoolRecord & { images: number }> {
    if (pool.name === DEFAULT_POOL || this.store.has(pool.name)) throw conflict(`pool ${pool.name} exists already`);
    try {
      // Not recursive: Node 20's recursive mkdir spins forever under /proc. The parent must exist.
      if (!existsSync(pool.path)) mkdirSync(pool.path, { mode: 0o700 });
      if (!statSync(pool.path).isDirectory()) throw new Error("not a directory");
    } catch (e) {
      throw invalid(`pool path ${pool.path} cannot be used as a directory: ${(e as Error).message}`);
    }
    await this.store.put(pool.name, { name: pool.name, path: pool.path });
    return { ...pool, images: this.imageFiles(pool.path).length };
  }

  /** The file behind "<pool>/<image>" (which need not exist yet). */
  imagePath(pool: string, image: string): string {
    return join(this.poolPath(pool), image);
  }

  /** The file of an existing image "<pool>/<image>"; not_found otherwise. */
  existingImage(ref: string): string {
    const [pool, image] = ref.split("/");
    const path = this.imagePath(pool, image);
    if (!existsSync(path)) throw notFound(`image ${ref}`);
    return path;
  }

  images(pool?: string): ImageView[] {
    const pools = pool === undefined ? this.records() : [{ name: pool, path: this.poolPath(pool) }];
    return pools.flatMap((p) => this.imageFiles(p.path).map((file) => this.view(p.name, file)));
  }

  image(pool: string, image: string): ImageView {
    if (!existsSync(this.imagePath(pool, image))) throw notFound(`image ${pool}/${image}`);
    return this.view(pool, image);
  }

  /** Creates an empty image at once, or starts a job importing one (`importFrom`). */
  createImage(pool: string, req: ImageCreate): ImageView | { job: JobView } {
    refuseLockName(req.name);
    const target = this.imagePath(pool, req.name);
    if (existsSync(target)) throw conflict(`image ${pool}/${req.name} exists already`);
    if ("importFrom" in req) {
      if (!existsSync(req.importFrom)) throw invalid(`importFrom ${req.importFrom}: no such file on the daemon's host`);
      return { job: this.copyJob("image.import", req.importFrom, pool, req.name, req.format) };
    }
    try {
      createImage(target, { format: req.format, size: req.sizeBytes });
    } catch (e) {
      throw invalid(`cannot create image ${pool}/${req.name}: ${(e as Error).message}`);
    }
    this.events.publish({ type: "image.created", name: `${pool}/${req.name}` });
    return this.view(pool, req.name);
  }

  cloneImage(pool: string, image: string, name: string): { job: JobView } {
    const source = this.imagePath(pool, image);
    if (!existsSync(source)) throw notFound(`image ${pool}/${image}`);
    if (existsSync(this.imagePath(pool, name))) throw conflict(`image ${pool}/${name} exists already`);
    return { job: this.copyJob("image.clone", source, pool, name) };
  }

  /** Copies `source` to a new image as a job. */
  copyJob(kind: string, source: string, pool: string, name: string, format?: ImageFormat): JobView {
    return this.jobs.run(kind, undefined, (progress) => this.copyImage(source, pool, name, progress, format));
  }

  /** Copies `source` to the new image `<pool>/<name>` (same format unless given), reporting progress 0..1. */
  async copyImage(source: string, pool: string, name: string, progress: (fraction: number) => void, format?: ImageFormat): Promise<ImageView> {
    refuseLockName(name);
    const target = this.imagePath(pool, name);
    if (existsSync(target)) throw conflict(`image ${pool}/${name} exists already`);
    try {
      await convertImage(source, target, { outputFormat: format ?? probeFormat(source), flush: true, progress: (done, total) => progress(total === 0 ? 1 : done / total) });
    } catch (e) {
      await unlink(target).catch(() => {});
      throw e;
    }
    this.events.publish({ type: "image.created", name: `${pool}/${name}` });
    return this.view(pool, name);
  }

  async deleteImage(pool: string, image: string): Promise<void> {
    const path = this.imagePath(pool, image);
    if (!existsSync(path)) throw notFound(`image ${pool}/${image}`);
    const users = this.usersOf(`${pool}/${image}`);
    if (users.length > 0) throw conflict(`image ${pool}/${image} is used by VM ${users.join(", ")}`);
    await unlink(path);
    this.events.publish({ type: "image.deleted", name: `${pool}/${image}` });
  }

  private records(): PoolRecord[] {
    return [{ name: DEFAULT_POOL, path: this.defaultPath }, ...this.store.values()];
  }

  private poolPath(pool: string): string {
    if (pool === DEFAULT_POOL) return this.defaultPath;
    const record = this.store.get(pool);
    if (record === undefined) throw notFound(`pool ${pool}`);
    return record.path;
  }

  private imageFiles(dir: string): string[] {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.startsWith(".") && !e.name.endsWith(".lock")) // <image>.lock: a VM's write lock (image-lock.ts)
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }

  private view(pool: string, name: string): ImageView {
    const path = this.imagePath(pool, name);
    let format = "raw";
    let sizeBytes = 0;
    let allocatedBytes = 0;
    try {
      const info = imageInfo(path);
      format = info.format;
      sizeBytes = info["virtual-size"];
      allocatedBytes = info["actual-size"];
    } catch {
      // Unreadable (being written by an import, or held by a VM): what the file system says.
      const st = statSync(path, { throwIfNoEntry: false });
      sizeBytes = st?.size ?? 0;
      allocatedBytes = (st?.blocks ?? 0) * 512;
      format = "unknown";
    }
    return { pool, name, format, sizeBytes, allocatedBytes, usedBy: this.usersOf(`${pool}/${name}`) };
  }
}

function refuseLockName(name: string): void {
  if (name.endsWith(".lock")) throw invalid(`image name ${name}: names ending in .lock are the write locks of images`);
}
