/** The last bytes of a VM's console, replayed to a viewer that connects (256 KiB by default). */
export class Scrollback {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly limit = 256 * 1024) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes - this.chunks[0].length >= this.limit) this.bytes -= this.chunks.shift()!.length;
  }

  /** Everything kept, at most `limit` bytes. */
  contents(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }
}
