/**
 * Serving bytes with HTTP Range (RFC 9110 §14): one range per request
 * (`bytes=a-b`, `bytes=a-`, `bytes=-n`), answered 206 with Content-Range;
 * no Range header, 200 with everything; a range outside the bytes or
 * several ranges, 416 with one clear message. HEAD answers the headers only.
 */
import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { errorBody } from "./error-reply.ts";

export interface ByteSource {
  size: number;
  /** The bytes [start, end] (inclusive) as a stream. */
  stream(start: number, end: number): Readable;
}

const CHUNK = 1 << 20;

/** A stream of [start, end] read in 1 MiB pieces by `read(position, length)`. */
export function chunkedStream(read: (position: number, length: number) => Buffer, start: number, end: number): Readable {
  return Readable.from((function* () {
    for (let at = start; at <= end; at += CHUNK) yield read(at, Math.min(CHUNK, end + 1 - at));
  })());
}

/** [start, end] of a Range header, null without one, or the reason it cannot be served. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | string {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return `Range ${JSON.stringify(header.slice(0, 80))} is not one byte range (bytes=START-END)`;
  const [, a, b] = m;
  if (a === "" && b === "") return "Range bytes=- names no bytes";
  let start: number;
  let end: number;
  if (a === "") {
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end || start >= size) {
    return `Range ${header.trim()} is outside the ${size} bytes`;
  }
  return { start, end };
}

export function sendRange(request: FastifyRequest, reply: FastifyReply, source: ByteSource, contentType = "application/octet-stream"): FastifyReply {
  const range = parseRange(request.headers.range, source.size);
  reply.header("accept-ranges", "bytes").header("cache-control", "no-store");
  if (typeof range === "string") {
    return reply.code(416).header("content-range", `bytes */${source.size}`).send(errorBody("invalid", range));
  }
  const { start, end } = range ?? { start: 0, end: source.size - 1 };
  reply.type(contentType).header("content-length", String(Math.max(0, end + 1 - start)));
  if (range !== null) reply.code(206).header("content-range", `bytes ${start}-${end}/${source.size}`);
  if (request.method === "HEAD" || source.size === 0) return reply.send();
  return reply.send(source.stream(start, end));
}
