/**
 * `typevisor img SUBCOMMAND`: disk image tools shaped like qemu-img (create,
 * info, check, convert, snapshot, commit, rebase, resize, map), on the
 * qcow2 library in src/backends/block/qcow2. Options and output follow
 * qemu-img so that scripts and habits carry over; exit status of `check` is
 * qemu-img's (0 clean, 2 corruptions, 3 leaks only).
 */
import * as fs from "node:fs";
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { ImageLock } from "../backends/block/image-lock.ts";
import { IMAGE_FORMATS, openQcow2, probeFormat, type ImageFormat } from "../backends/block/open-image.ts";
import { checkImage, type RepairMode } from "../backends/block/qcow2/check.ts";
import { Qcow2Image } from "../backends/block/qcow2/qcow2-image.ts";
import { applySnapshot, createSnapshot, deleteSnapshot } from "../backends/block/qcow2/snapshots.ts";
import { commitImage } from "../backends/block/tools/commit.ts";
import { convertImage } from "../backends/block/tools/convert.ts";
import { createImage } from "../backends/block/tools/create-image.ts";
import { backingChainInfo, imageInfo } from "../backends/block/tools/image-info.ts";
import { mapImage } from "../backends/block/tools/map.ts";
import { rebaseImage } from "../backends/block/tools/rebase.ts";
import { CliError } from "./cli-error.ts";
import { checkJson, formatCheck, formatInfo, formatMap, formatSnapshots, mapJson, parseImageSize, sizeToString } from "./img-output.ts";

export function registerImgCommand(program: Command): void {
  const img = program.command("img").description("create, inspect and convert disk images (raw, qcow2), like qemu-img");
  const formatOption = () => new Option("-f <FMT>", "image format (default: probe)").choices(IMAGE_FORMATS);
  const outputOption = () => new Option("--output <OFMT>", "output format").choices(["human", "json"]).default("human");
  const forceShare = () => new Option("-U, --force-share", "accepted for qemu-img compatibility (readers never lock)");

  img
    .command("create")
    .description("create a new image")
    .addOption(new Option("-f <FMT>", "image format").choices(IMAGE_FORMATS).default("raw"))
    .option("-b <BACKING>", "backing file (qcow2 only; relative names are relative to the new image)")
    .addOption(new Option("-F <BACKING_FMT>", "backing file format").choices(IMAGE_FORMATS))
    .option("-o <OPTIONS>", "format options: cluster_size=SIZE")
    .option("-q", "quiet")
    .argument("<filename>")
    .argument("[size]", "size in bytes, or with a k/M/G/T suffix")
    .action((file: string, sizeText: string | undefined, o: { f: ImageFormat; b?: string; F?: ImageFormat; o?: string; q?: boolean }) => {
      const size = sizeText === undefined ? undefined : imageSize(sizeText);
      const clusterSize = formatOptions(o.o).cluster_size;
      const actual = createImage(file, { format: o.f, size, backingFile: o.b, backingFormat: o.F, clusterSize });
      if (!o.q) {
        const backing = o.b !== undefined ? ` backing_file=${o.b}${o.F ? ` backing_fmt=${o.F}` : ""}` : "";
        process.stdout.write(`Formatting '${file}', fmt=${o.f} size=${actual}${backing}\n`);
      }
    });

  img
    .command("info")
    .description("show an image's format, sizes, backing file and snapshots")
    .addOption(formatOption())
    .addOption(outputOption())
    .addOption(forceShare())
    .option("--backing-chain", "show every image of the backing chain")
    .argument("<filename>")
    .action((file: string, o: { f?: ImageFormat; output: string; backingChain?: boolean }) => {
      const chain = o.backingChain ? backingChainInfo(file, o.f) : [imageInfo(file, o.f)];
      if (o.output === "json") {
        process.stdout.write(`${JSON.stringify(o.backingChain ? chain : chain[0], null, 4)}\n`);
      } else {
        process.stdout.write(`${chain.map(formatInfo).join("\n\n")}\n`);
      }
    });

  img
    .command("check")
    .description("check a qcow2 image's metadata for consistency (and repair it with -r)")
    .addOption(formatOption())
    .addOption(outputOption())
    .addOption(forceShare())
    .addOption(new Option("-r <MODE>", "repair leaked clusters, or all problems").choices(["leaks", "all"]))
    .option("-q", "quiet")
    .argument("<filename>")
    .action((file: string, o: { f?: ImageFormat; output: string; r?: RepairMode; q?: boolean }) => {
      if ((o.f ?? probeFormat(file)) !== "qcow2") throw new CliError(`${file}: this image format does not support checks`);
      const repair = o.r ?? "none";
      const lock = repair !== "none" ? ImageLock.acquire(file) : null;
      const image = Qcow2Image.open(file, { readOnly: repair === "none", forRepair: true });
      let result;
      try {
        result = checkImage(image, repair);
        if (repair !== "none" && result.corruptions === result.corruptionsFixed) image.markClean();
      } finally {
        image.close();
        lock?.release();
      }
      if (o.output === "json") process.stdout.write(`${JSON.stringify(checkJson(result, file), null, 4)}\n`);
      else if (!o.q) process.stdout.write(`${formatCheck(result)}\n`);
      const errors = result.corruptions - result.corruptionsFixed;
      process.exitCode = errors > 0 ? 2 : result.leaks - result.leaksFixed > 0 ? 3 : 0;
    });

  img
    .command("convert")
    .description("copy an image into a new one, changing format (raw ⇄ qcow2), flattening its backing chain")
    .addOption(formatOption())
    .addOption(new Option("-O <OUTPUT_FMT>", "output format").choices(IMAGE_FORMATS).default("raw"))
    .option("-c", "compress the output (qcow2)")
    .option("-p", "show a progress bar")
    .option("-o <OPTIONS>", "output format options: cluster_size=SIZE")
    .addOption(
      new Option("-t <CACHE>", "target cache mode: unsafe (no final fsync, qemu-img's default) or writeback (fsync at the end)")
        .choices(["unsafe", "writeback", "none"])
        .default("unsafe"),
    )
    .option("-q", "quiet")
    .addOption(forceShare())
    .argument("<filename>")
    .argument("<output_filename>")
    .action(async (file: string, target: string, o: { f?: ImageFormat; O: ImageFormat; c?: boolean; p?: boolean; o?: string; t: string }) => {
      const bar = o.p ? progressBar("convert") : null;
      try {
        await convertImage(file, target, {
          sourceFormat: o.f,
          outputFormat: o.O,
          compress: o.c === true,
          clusterSize: formatOptions(o.o).cluster_size,
          flush: o.t !== "unsafe",
          progress: bar?.update,
        });
      } finally {
        bar?.stop();
      }
    });

  img
    .command("snapshot")
    .description("list, create, apply or delete internal snapshots of a qcow2 image")
    .option("-l", "list snapshots")
    .option("-c <SNAPSHOT>", "create a snapshot")
    .option("-a <SNAPSHOT>", "apply (revert the disk to) a snapshot")
    .option("-d <SNAPSHOT>", "delete a snapshot")
    .option("-q", "quiet")
    .addOption(forceShare())
    .argument("<filename>")
    .action((file: string, o: { l?: boolean; c?: string; a?: string; d?: string }) => {
      const chosen = [o.l, o.c, o.a, o.d].filter((x) => x !== undefined).length;
      if (chosen !== 1) throw new CliError("img snapshot: give exactly one of -l, -c NAME, -a NAME, -d NAME");
      if (probeFormat(file) !== "qcow2") throw new CliError(`${file}: snapshots need a qcow2 image`);
      if (o.l) {
        const info = imageInfo(file, "qcow2");
        if (info.snapshots !== undefined) process.stdout.write(`Snapshot list:\n${formatSnapshots(info.snapshots).join("\n")}\n`);
        return;
      }
      withWritableQcow2(file, (image) => {
        if (o.c !== undefined) createSnapshot(image, o.c);
        else if (o.a !== undefined) applySnapshot(image, o.a);
        else deleteSnapshot(image, o.d!);
      });
    });

  img
    .command("commit")
    .description("write a qcow2 overlay's clusters into its backing image")
    .addOption(formatOption())
    .option("-d", "keep the overlay's clusters (do not empty it)")
    .option("-p", "show a progress bar")
    .option("-q", "quiet")
    .argument("<filename>")
    .action((file: string, o: { d?: boolean; p?: boolean; q?: boolean }) => {
      const bar = o.p ? progressBar("commit") : null;
      try {
        commitImage(file, { keepOverlay: o.d === true, progress: bar?.update });
      } finally {
        bar?.stop();
      }
      if (!o.q) process.stdout.write("Image committed.\n");
    });

  img
    .command("rebase")
    .description("change a qcow2 image's backing file (safe: copies what differs first)")
    .addOption(formatOption())
    .requiredOption("-b <BACKING>", "new backing file ('' for none)")
    .addOption(new Option("-F <BACKING_FMT>", "new backing file format").choices(IMAGE_FORMATS))
    .option("-u", "unsafe: only change the name, copy nothing")
    .option("-p", "show a progress bar")
    .option("-q", "quiet")
    .argument("<filename>")
    .action((file: string, o: { b: string; F?: ImageFormat; u?: boolean; p?: boolean }) => {
      const bar = o.p ? progressBar("rebase") : null;
      try {
        rebaseImage(file, { backingFile: o.b, backingFormat: o.F, unsafe: o.u === true, progress: bar?.update });
      } finally {
        bar?.stop();
      }
    });

  img
    .command("resize")
    .description("change an image's virtual size (SIZE, +SIZE or -SIZE)")
    .addOption(formatOption())
    .option("--shrink", "allow making the image smaller (data past the new end is lost)")
    .option("-q", "quiet")
    .argument("<filename>")
    .argument("<size>")
    .action((file: string, sizeText: string, o: { f?: ImageFormat; shrink?: boolean; q?: boolean }) => {
      const format = o.f ?? probeFormat(file);
      const lock = ImageLock.acquire(file);
      try {
        const current = format === "qcow2" ? imageInfo(file, "qcow2")["virtual-size"] : fs.statSync(file).size;
        const sign = sizeText[0] === "+" ? 1 : sizeText[0] === "-" ? -1 : 0;
        const amount = imageSize(sign !== 0 ? sizeText.slice(1) : sizeText);
        const size = sign === 0 ? amount : current + sign * amount;
        if (size < 0) throw new CliError(`img resize: ${sizeText} would make the size negative`);
        if (size < current && !o.shrink) throw new CliError("img resize: use --shrink to make an image smaller (data past the new end is lost)");
        if (format === "raw") {
          fs.truncateSync(file, size);
        } else {
          const image = Qcow2Image.open(file, { readOnly: false });
          try {
            image.resize(size);
            image.file.sync();
          } finally {
            image.close();
          }
        }
      } finally {
        lock.release();
      }
      if (!o.q) process.stdout.write("Image resized.\n");
    });

  img
    .command("map")
    .description("show where each range of the guest disk is stored, through the backing chain")
    .addOption(formatOption())
    .addOption(outputOption())
    .addOption(forceShare())
    .argument("<filename>")
    .action((file: string, o: { f?: ImageFormat; output: string }) => {
      const entries = mapImage(file, o.f);
      process.stdout.write(`${o.output === "json" ? mapJson(entries) : formatMap(entries)}\n`);
    });
}

function withWritableQcow2(file: string, op: (image: Qcow2Image) => void): void {
  const lock = ImageLock.acquire(file);
  try {
    const image = openQcow2(file, false);
    try {
      op(image);
      image.file.sync();
    } finally {
      image.close();
    }
  } finally {
    lock.release();
  }
}

function imageSize(text: string): number {
  const size = parseImageSize(text);
  if (size === null) throw new CliError(`invalid image size "${text}": give bytes or a number with k, M, G, T, P or E`);
  return size;
}

function formatOptions(text: string | undefined): { cluster_size?: number } {
  const out: { cluster_size?: number } = {};
  for (const item of (text ?? "").split(",").filter((s) => s !== "")) {
    const [key, value] = item.split("=", 2);
    if (key === "cluster_size" && value !== undefined) out.cluster_size = imageSize(value);
    else throw new CliError(`unsupported format option "${item}" (supported: cluster_size=SIZE)`);
  }
  return out;
}

/** A progress bar on stderr (stdout stays clean for scripts). */
function progressBar(what: string): { update: (done: number, total: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format: `${what} [{bar}] {percentage}% | {doneText} / {totalText}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total) => {
      const payload = { doneText: sizeToString(done), totalText: sizeToString(total) };
      if (!started) {
        bar.start(Math.max(total, 1), done, payload);
        started = true;
      } else {
        bar.update(done, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
