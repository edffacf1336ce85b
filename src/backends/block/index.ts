export type { BlockBackend } from "./block-backend.ts";
export { RawFileBackend } from "./raw-file.ts";
export { MemoryBlockBackend } from "./memory.ts";
export { BadSectorsBackend, type SectorRange } from "./bad-sectors.ts";
export { parseDriveSpec, openDrive, type DriveSpec } from "./drive-spec.ts";
export { SnapshotOverlayBackend } from "./snapshot-overlay.ts";
