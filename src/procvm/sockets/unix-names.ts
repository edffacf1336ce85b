/**
 * The unix-domain name space of one VM: which guest socket is bound to
 * which name.
 *
 * A path name gets a file on the host, as Linux creates an inode: the
 * guest sees it with ls/stat, can unlink it, and a second bind to it fails
 * with EADDRINUSE. Node cannot make a socket inode, so it is an empty
 * regular file (mode 0777 & ~umask) and the socket is found by that file's
 * (device, inode): a connect through a symlink or a relative path finds
 * it, and once the guest unlinks the file the name is gone (ENOENT), as on
 * Linux. Abstract names (a leading NUL byte) live only in this registry.
 */
import * as fs from "node:fs";
import { ERRNO } from "../abi.ts";
import { hostErrno } from "../files.ts";

function abstractKey(name: Uint8Array): string {
  return Buffer.from(name).toString("latin1");
}

export class UnixNames<T> {
  private readonly byInode = new Map<string, T>();
  private readonly abstract = new Map<string, T>();
  private nextAuto = 0;

  /** Creates the socket file at `hostPath` and registers `sock`: its key, or -EADDRINUSE / a host errno. */
  bindPath(hostPath: string, mode: number, sock: T): string | number {
    const fd = this.openNew(hostPath, mode);
    if (fd < 0) return fd;
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      const key = `${st.dev}:${st.ino}`;
      this.byInode.set(key, sock);
      return key;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Creates a socket file with no socket behind it: 0 or the errno bind would give. */
  createFile(hostPath: string, mode: number): number {
    const fd = this.openNew(hostPath, mode);
    if (fd < 0) return fd;
    fs.closeSync(fd);
    return 0;
  }

  removeFile(hostPath: string): void {
    try {
      fs.unlinkSync(hostPath);
    } catch {
      // gone already
    }
  }

  private openNew(hostPath: string, mode: number): number {
    try {
      return fs.openSync(hostPath, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, mode);
    } catch (e) {
      const code = (e as { code?: string }).code;
      return code === "EEXIST" ? -ERRNO.EADDRINUSE : hostErrno(e);
    }
  }

  bindAbstract(name: Uint8Array, sock: T): string | number {
    const key = abstractKey(name);
    if (this.abstract.has(key)) return -ERRNO.EADDRINUSE;
    this.abstract.set(key, sock);
    return "@" + key;
  }

  /** An unused abstract name of five hex digits, as unix_autobind picks. */
  autobindName(): Uint8Array {
    for (;;) {
      const n = (this.nextAuto++ * 0x9e37 + 0x1f3d) & 0xfffff;
      const name = new TextEncoder().encode("\0" + n.toString(16).padStart(5, "0"));
      if (!this.abstract.has(abstractKey(name))) return name;
    }
  }

  /** The socket bound to the file at `hostPath`: -ENOENT (or another host errno) when there is no file, -ECONNREFUSED when no socket has it. */
  lookupPath(hostPath: string): T | number {
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(hostPath, { bigint: true });
    } catch (e) {
      return hostErrno(e);
    }
    return this.byInode.get(`${st.dev}:${st.ino}`) ?? -ERRNO.ECONNREFUSED;
  }

  lookupAbstract(name: Uint8Array): T | number {
    return this.abstract.get(abstractKey(name)) ?? -ERRNO.ECONNREFUSED;
  }

  /** Forgets a binding (the socket was closed); a path's file stays, as on Linux. */
  unbind(key: string, sock: T): void {
    const map = key.startsWith("@") ? this.abstract : this.byInode;
    const k = key.startsWith("@") ? key.slice(1) : key;
    if (map.get(k) === sock) map.delete(k);
  }
}
