/**
 * HTTP for the tab's worker: byte ranges fetched asynchronously (disk
 * reads, background RAM streaming) or synchronously (a RAM page the guest
 * is waiting for: the machine's page loader cannot await, and synchronous
 * XMLHttpRequest is allowed in a dedicated worker). Every failure is one
 * Error whose message names the URL and the reason.
 */

export type Headers = Record<string, string>;

/** A server that ignores Range answers 200 with the whole body: taken only when that body is the range. */
function rangeBody(url: string, status: number, body: ArrayBuffer, start: number, end: number): Uint8Array {
  if (status !== 206 && !(status === 200 && start === 0)) throw new Error(`GET ${url} bytes ${start}-${end - 1}: HTTP ${status}`);
  const bytes = new Uint8Array(body);
  if (bytes.length < end - start) {
    throw new Error(`GET ${url} bytes ${start}-${end - 1}: got ${bytes.length} bytes, expected ${end - start} (file shorter than said?)`);
  }
  return status === 200 ? bytes.subarray(0, end - start) : bytes;
}

/** Bytes [start, end) of `url`. */
export async function fetchRange(url: string, start: number, end: number, headers: Headers): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { ...headers, Range: `bytes=${start}-${end - 1}` }, credentials: "same-origin" });
  } catch (e) {
    throw new Error(`GET ${url}: ${(e as Error).message}`);
  }
  return rangeBody(url, response.status, await response.arrayBuffer(), start, end);
}

/** Bytes [start, end) of `url`, blocking the worker until they are here. */
export function fetchRangeSync(url: string, start: number, end: number, headers: Headers): Uint8Array {
  const xhr = new XMLHttpRequest();
  xhr.open("GET", url, false);
  xhr.responseType = "arraybuffer";
  for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
  xhr.setRequestHeader("Range", `bytes=${start}-${end - 1}`);
  try {
    xhr.send();
  } catch (e) {
    throw new Error(`GET ${url}: ${(e as Error).message}`);
  }
  return rangeBody(url, xhr.status, xhr.response as ArrayBuffer, start, end);
}

/** The whole body of `url` (a kernel, an initrd). */
export async function fetchAll(url: string, headers: Headers, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { headers, credentials: "same-origin" });
  } catch (e) {
    throw new Error(`cannot fetch the ${what} ${url}: ${(e as Error).message}`);
  }
  if (!response.ok) throw new Error(`cannot fetch the ${what} ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** PUTs `body` to `url` with ?offset=`offset`. */
export async function putAt(url: string, offset: number, body: Uint8Array, headers: Headers): Promise<void> {
  const target = new URL(url, self.location.href);
  target.searchParams.set("offset", String(offset));
  let response: Response;
  try {
    response = await fetch(target, {
      method: "PUT",
      headers: { ...headers, "Content-Type": "application/octet-stream" },
      body: body as Uint8Array<ArrayBuffer>,
      credentials: "same-origin",
    });
  } catch (e) {
    throw new Error(`PUT ${target.href}: ${(e as Error).message}`);
  }
  if (!response.ok) throw new Error(`PUT ${target.href}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
}
