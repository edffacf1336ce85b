export type { BlockBackend } from "./block-backend.ts";
export { RawFileBackend } from "./raw-file.ts";
export { MemoryBlockBackend } from "./memory.ts";
export { BadSectorsBackend, type SectorRange } from "./bad-sectors.ts";
export { parseDriveSpec, openDrive, type DriveSpec } from "./drive-spec.ts";
export { SnapshotOverlayBackend } from "./snapshot-overlay.ts";
export { openImage, probeFormat, type ImageFormat } from "./open-image.ts";
export { Qcow2Image } from "./qcow2/qcow2-image.ts";
export { ImageError, CorruptImageError } from "./qcow2/errors.ts";
