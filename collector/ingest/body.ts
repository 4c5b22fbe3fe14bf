// Request bodies: gzip/deflate decoding and the JSON/protobuf split by content type, per OTLP/HTTP.
import { gunzipSync, inflateSync } from 'node:zlib';

export class BadRequest extends Error {}

export type Encoding = 'json' | 'protobuf';

export function encodingOf(contentType: string | undefined): Encoding | undefined {
  const ct = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (ct === 'application/json') return 'json';
  if (ct === 'application/x-protobuf' || ct === 'application/protobuf') return 'protobuf';
  return undefined;
}

export function decompress(body: Uint8Array, contentEncoding: string | undefined, maxBytes: number): Uint8Array {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  try {
    if (enc === 'gzip') return gunzipSync(body, { maxOutputLength: maxBytes });
    if (enc === 'deflate') return inflateSync(body, { maxOutputLength: maxBytes });
  } catch (e) {
    throw new BadRequest(`body could not be decompressed (${enc}): ${(e as Error).message}`);
  }
  if (enc && enc !== 'identity') throw new BadRequest(`unsupported Content-Encoding "${enc}"`);
  return body;
}
