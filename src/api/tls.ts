/**
 * The TCP listener's certificate: the one given (--tls-cert/--tls-key), or
 * a self-signed one generated on first start into <data-dir>/tls/ (P-256,
 * valid ten years, names localhost, 127.0.0.1, ::1 and the host name) and
 * reused afterwards. Clients trust it with --cacert <data-dir>/tls/cert.pem.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";
import { writeFileAtomic } from "../hypervisor/store/atomic-file.ts";

export interface TlsFiles {
  key: string;
  cert: string;
  certFile: string;
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export async function tlsCertificate(dataDir: string, given?: { certFile: string; keyFile: string }): Promise<TlsFiles> {
  if (given !== undefined) return { cert: readFileSync(given.certFile, "utf8"), key: readFileSync(given.keyFile, "utf8"), certFile: given.certFile };
  const dir = join(dataDir, "tls");
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const now = new Date();
    const pems = await generate([{ name: "commonName", value: "typevisor" }], {
      keyType: "ec",
      curve: "P-256",
      algorithm: "sha256",
      notBeforeDate: now,
      notAfterDate: new Date(now.getTime() + TEN_YEARS_MS),
      extensions: [
        { name: "basicConstraints", cA: true },
        { name: "keyUsage", digitalSignature: true, keyCertSign: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 2, value: hostname() }, { type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }] },
      ],
    });
    await writeFileAtomic(keyFile, pems.private, 0o600);
    await writeFileAtomic(certFile, pems.cert, 0o644);
  }
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile };
}
