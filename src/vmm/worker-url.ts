/**
 * Where a VM's worker thread starts. The bundles (bin/typevisor and the
 * library's dist/) build the worker as a second entry point and define
 * TYPEVISOR_WORKER_BUNDLE as its location relative to this module's
 * import.meta.url; from the sources, a small bootstrap loads worker.ts.
 */
declare const TYPEVISOR_WORKER_BUNDLE: string | undefined;

export function workerUrl(): URL {
  return typeof TYPEVISOR_WORKER_BUNDLE === "string"
    ? new URL(TYPEVISOR_WORKER_BUNDLE, import.meta.url)
    : new URL("./worker-source.mjs", import.meta.url);
}
