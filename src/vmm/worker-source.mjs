// The worker entry when Typevisor runs from its TypeScript sources (`node
// --import tsx`, the tests): Node 20 does not carry tsx's loader into worker
// threads, so register it here before loading the worker. The bundles
// (bin/typevisor, dist/) start their own plain-JS worker bundle instead.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
