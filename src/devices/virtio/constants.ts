/**
 * Numbers from the virtio 1.2 specification shared by the transport and the
 * devices. Feature bits are bit numbers; `feature(bit)` turns one into a mask.
 */

export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_ENTROPY = 4;

/** Device status bits (spec 2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

/** Reserved (device-independent) feature bits (spec 6). */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** InterruptStatus bits of virtio-mmio. */
export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

export function feature(bit: number): bigint {
  return 1n << BigInt(bit);
}
