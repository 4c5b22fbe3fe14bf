// Request bodies: gzip/deflate decoding and the JSON/protobuf split by content type, per OTLP/HTTP.
import { gunzipSync, inflateSync } from 'node:zlib';
import type protobuf from 'protobufjs';
import { TO_JSON_SHAPE } from '../../otlp/schema.js';

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

/**
 * An OTLP export request in either encoding, brought to the OTLP/JSON shape. `list` is the
 * top-level repeated field (resourceLogs, resourceMetrics), which must be an array when present.
 */
export function parseExportRequest<T>(body: Uint8Array, encoding: Encoding, type: protobuf.Type, list: string): T {
  if (encoding === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch (e) {
      throw new BadRequest(`body is not valid JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new BadRequest(`body must be a JSON object (${type.name})`);
    }
    const items = (parsed as Record<string, unknown>)[list];
    if (items !== undefined && !Array.isArray(items)) throw new BadRequest(`${list}: must be an array`);
    return parsed as T;
  }
  try {
    return type.toObject(type.decode(body), TO_JSON_SHAPE) as T;
  } catch (e) {
    throw new BadRequest(`body is not a valid ${type.name} protobuf: ${(e as Error).message}`);
  }
}
