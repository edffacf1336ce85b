/**
 * `typevisor image VERB`: disk images in the daemon's storage pools
 * (`POOL/IMAGE`, or `IMAGE` in pool "default"), and `image pool …` for the
 * pools themselves. For local image files use `typevisor img`.
 */
import { Command, Option } from "commander";
import { CliError } from "./cli-error.ts";
import { formatTable, print } from "./api-output.ts";
import { EXIT } from "./client/exit-codes.ts";
import { jobOf, waitForJob } from "./client/jobs.ts";
import { clientFor, pathSegment, verb, verbGroup, type VerbOptions } from "./daemon-verb.ts";
import { parseImageSize, sizeToString } from "./img-output.ts";

import type { ImageView } from "../hypervisor/model.ts";

interface PoolView { name: string; path: string; images: number }

export function registerImageCommand(program: Command): void {
  const image = verbGroup(program, "image", "manage disk images in the daemon's storage pools");

  verb(image, "list", "list images (of one pool, or all)").argument("[pool]").action(async (pool: string | undefined, o: VerbOptions) => {
    const images = await clientFor(o).get<ImageView[]>(pool === undefined ? "/v1/images" : `/v1/pools/${pathSegment(pool)}/images`);
    print(o.output, images, (list) => formatTable(list, [
      { header: "POOL", value: (i) => i.pool },
      { header: "NAME", value: (i) => i.name },
      { header: "FORMAT", value: (i) => i.format },
      { header: "SIZE", value: (i) => sizeToString(i.sizeBytes) },
      { header: "ALLOCATED", value: (i) => sizeToString(i.allocatedBytes) },
      { header: "USED BY", value: (i) => i.usedBy },
    ]));
  });

  verb(image, "create", "create an empty image")
    .argument("<image>", "POOL/NAME or NAME (pool default)")
    .argument("<size>", "bytes, or with a k/M/G/T suffix")
    .addOption(new Option("-f, --format <FMT>", "image format").choices(["qcow2", "raw"]).default("qcow2"))
    .action(async (ref: string, sizeText: string, o: VerbOptions & { format: string }) => {
      const { pool, name } = imageRef(ref);
      const sizeBytes = parseImageSize(sizeText);
      if (sizeBytes === null || sizeBytes <= 0) throw new CliError(`size must be bytes or a number with k/M/G/T, not "${sizeText}"`, EXIT.usage);
      const view = await clientFor(o).post(`/v1/pools/${pathSegment(pool)}/images`, { name, sizeBytes, format: o.format });
      print(o.output, view, () => `${pool}/${name}: created (${sizeToString(sizeBytes)}, ${o.format})\n`);
    });

  verb(image, "import", "copy an image file on the daemon's host into a pool")
    .argument("<image>", "POOL/NAME or NAME")
    .argument("<path>", "the file to import (a path on the daemon's host)")
    .action(async (ref: string, path: string, o: VerbOptions) => {
      const { pool, name } = imageRef(ref);
      const client = clientFor(o);
      const answer = await client.post(`/v1/pools/${pathSegment(pool)}/images`, { name, importFrom: path });
      const job = jobOf(answer);
      const done = job ? await waitForJob(client, job, { label: `import ${pool}/${name}`, bar: barWanted(o) }) : answer;
      print(o.output, done, () => `${pool}/${name}: imported from ${path}\n`);
    });

  verb(image, "clone", "copy an image within its pool")
    .argument("<image>", "POOL/NAME or NAME")
    .argument("<new-name>")
    .action(async (ref: string, newName: string, o: VerbOptions) => {
      const { pool, name } = imageRef(ref);
      const client = clientFor(o);
      const answer = await client.post(`/v1/pools/${pathSegment(pool)}/images/${pathSegment(name)}/clone`, { name: newName });
      const job = jobOf(answer);
      const done = job ? await waitForJob(client, job, { label: `clone ${pool}/${name}`, bar: barWanted(o) }) : answer;
      print(o.output, done, () => `${pool}/${newName}: cloned from ${pool}/${name}\n`);
    });

  verb(image, "delete", "delete an image no VM uses").argument("<image>", "POOL/NAME or NAME").action(async (ref: string, o: VerbOptions) => {
    const { pool, name } = imageRef(ref);
    await clientFor(o).request("DELETE", `/v1/pools/${pathSegment(pool)}/images/${pathSegment(name)}`);
    print(o.output, { deleted: `${pool}/${name}` }, () => `${pool}/${name}: deleted\n`);
  });

  const pool = verbGroup(image, "pool", "storage pools (directories of images)");
  verb(pool, "list", "list storage pools").action(async (o: VerbOptions) => {
    print(o.output, await clientFor(o).get<PoolView[]>("/v1/pools"), (list) => formatTable(list, [
      { header: "NAME", value: (p) => p.name },
      { header: "IMAGES", value: (p) => p.images },
      { header: "PATH", value: (p) => p.path },
    ]));
  });
  verb(pool, "create", "add a directory as a pool").argument("<name>").argument("<path>", "a directory on the daemon's host")
    .action(async (name: string, path: string, o: VerbOptions) => {
      print(o.output, await clientFor(o).post("/v1/pools", { name, path }), () => `pool ${name}: created at ${path}\n`);
    });
}

export function imageRef(ref: string): { pool: string; name: string } {
  const parts = ref.split("/");
  if (parts.length > 2 || parts.some((p) => p.length === 0)) throw new CliError(`an image is POOL/NAME or NAME, not "${ref}"`, EXIT.usage);
  return parts.length === 2 ? { pool: parts[0], name: parts[1] } : { pool: "default", name: parts[0] };
}

function barWanted(o: VerbOptions): boolean {
  return o.output === "table" && process.stderr.isTTY === true;
}
