// Taking an encoded ExportLogsServiceRequest apart and putting ResourceLogs together in any field
// order, for tests of the protobuf decoder's late-resource handling (encoders write the resource first).
import protobuf from 'protobufjs';

/** The fields of the (only) ResourceLogs of an encoded request, as encoded: [resource, scopeLogs]. */
export function resourceLogsFields(bytes: Uint8Array): Uint8Array[] {
  const outer = protobuf.Reader.create(bytes);
  outer.uint32();
  const inner = outer.bytes();
  const r = protobuf.Reader.create(inner);
  const parts: Uint8Array[] = [];
  while (r.pos < r.len) {
    const from = r.pos;
    r.skipType(r.uint32() & 7);
    parts.push(inner.subarray(from, r.pos));
  }
  return parts;
}

/** One ResourceLogs (request field 1) made of these encoded fields, in this order. */
export const resourceLogsOf = (...parts: Uint8Array[]): Uint8Array => protobuf.Writer.create().uint32(10).bytes(Buffer.concat(parts)).finish();
