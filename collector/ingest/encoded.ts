// Predictions decoded straight into RowBinary (PredictionSink: the receiver's path for
// OTLP/protobuf, fed by otlp-logs-protobuf.ts under the rules of otlp-logs.ts), with what the
// receiver still needs of each row after decoding.
import { RowBinaryWriter, selectRows, writePrediction, writePredictionHead, type Block } from '../store/rowbinary.js';
import { attrPath, checked, EMBEDDING, FEATURE, FieldError, MISSING, recordHead, rowOf, SEGMENT, type Attrs, type FieldPath, type Head, type Limits, type RecordView } from './otlp-logs.js';
import type { LabelRow } from './records.js';

export interface EncodedPredictions {
  /** The rows of TABLES.predictions. */
  block: Block;
  /** Per row: its model (authorization) and version (embedding dimensions), its id (messages). */
  models: string[];
  versions: string[];
  ids: string[];
  /** Per row: its feature and embedding names (the cardinality guard); rows with the same names share one array. */
  names: (readonly string[])[];
  /** Per row: its vectors, when it has any (their dimensions are accepted once the row is stored). */
  embs: (Record<string, ArrayLike<number>> | undefined)[];
}

/** The rows for which `keep(i)` holds (asked once per row, in order). */
export function selectPredictions(e: EncodedPredictions, keep: (i: number) => boolean): EncodedPredictions {
  const kept = e.models.map((_, i) => keep(i));
  const block = selectRows(e.block, (i) => kept[i]);
  if (block === e.block) return e;
  const pick = <T>(a: T[]) => a.filter((_, i) => kept[i]);
  return { block, models: pick(e.models), versions: pick(e.versions), ids: pick(e.ids), names: pick(e.names), embs: pick(e.embs) };
}

/**
 * Writes each prediction record straight into RowBinary: no row object, no object of feature values
 * (20 numbers are 20 heap numbers there), no second pass to encode it (bench/README.md, session 5).
 * Its rules are recordToRow's: the same checks in the same order (recordHead, then `checked` for
 * every attribute), and a record this sink does not write as it is (a name given twice, which
 * rowOf resolves by last value; a vector, whose dimension rowOf checks) becomes its row through
 * rowOf itself and is encoded from it. Map entries keep the attributes' order, where a
 * row object puts integer-like names first: the same map to every reader.
 */
export class PredictionSink {
  private w: RowBinaryWriter;
  private models: string[] = [];
  private versions: string[] = [];
  private ids: string[] = [];
  private names: (readonly string[])[] = [];
  private embs: (Record<string, ArrayLike<number>> | undefined)[] = [];
  /** The record's feature names (a reused array, never shortened: its room stays). */
  private scratch: string[] = [];
  /** The last distinct list of names (shared by the rows that have it), and whether it has no repeat. */
  private lastNames: readonly string[] = [];
  private lastDistinct = true;
  /** The num map for lastNames when every value is a number, made on first use (see numTemplate). */
  private numTpl: NumTemplate | undefined;
  /**
   * The last record's head when it was written from the template with no segment (all-number
   * features, lastNames): a record whose shape can be learned (record-shape.ts). Else undefined.
   */
  shapeable: Head | undefined;

  /** `bodyBytes`: the request's size, which sizes the rows' buffer (RowBinary takes ~40% of OTLP's bytes). */
  constructor(readonly labels: LabelRow[], bodyBytes: number) {
    this.w = new RowBinaryWriter(Math.min(Math.ceil(bodyBytes / 2), 16 * 1024 * 1024));
  }

  /** The feature names of the last record written directly (see shapeable). */
  get featureNames(): readonly string[] {
    return this.lastNames;
  }

  /** Where the sink is, to go back to (a ResourceLogs read again: see otlp-logs-protobuf.ts). */
  mark(): { rows: number; bytes: number; labels: number } {
    return { rows: this.models.length, bytes: this.w.bytes, labels: this.labels.length };
  }

  reset(m: { rows: number; bytes: number; labels: number }): void {
    this.w.truncate(m.rows, m.bytes);
    for (const a of [this.models, this.versions, this.ids, this.names, this.embs]) a.length = m.rows;
    this.labels.length = m.labels;
  }

  finish(): EncodedPredictions {
    let block = this.w.block();
    // The queue counts a block's bytes, not its buffer's: a block that fills less than 3/4 of its
    // buffer (rejected or label records, a grown buffer) gets one of its own size.
    if (block.data.length < 0.75 * block.data.buffer.byteLength) block = { data: Buffer.from(block.data), ends: block.ends };
    return { block, models: this.models, versions: this.versions, ids: this.ids, names: this.names, embs: this.embs };
  }

  record(view: RecordView, path: FieldPath, resource: Attrs, limits: Limits, now: number): void {
    this.shapeable = undefined;
    const h = recordHead(view, path, resource, limits, now, this.labels);
    if (h === undefined) return;
    const { attrs } = view;
    const { keys, vals, kinds } = attrs;
    // The checks of rowOf's loop, in its order, up to the first vector.
    const names = this.scratch;
    let count = 0;
    let direct = true;
    let segments = 0;
    let allNum = true;
    for (let i = 0; i < attrs.size; i++) {
      const key = keys[i];
      const { kind, name } = kinds[i];
      if (kind === FEATURE) {
        if (name === '') throw new FieldError(attrPath(path, key), 'feature name is empty');
        if (count + 1 > limits.maxFeatures) throw new FieldError(attrPath(path, key), `more than ${limits.maxFeatures} features`);
        if (typeof checked(vals[i], path, key, limits) !== 'number') allNum = false;
        names[count++] = name;
      } else if (kind === EMBEDDING) {
        if (vals[i] === MISSING) continue;
        direct = false;
        break;
      } else if (kind === SEGMENT) {
        checked(vals[i], path, key, limits);
        segments++;
      }
    }
    let list = this.lastNames;
    if (direct) {
      // Records of one request mostly repeat the last one's names: then they share its array.
      let same = count === list.length;
      for (let f = 0; same && f < count; f++) same = names[f] === list[f];
      if (!same) {
        list = names.slice(0, count);
        this.lastNames = list;
        this.lastDistinct = new Set(list).size === list.length;
        this.numTpl = undefined;
      }
      direct = this.lastDistinct && (segments < 2 || distinctSegments(attrs));
    }
    if (!direct) {
      const row = rowOf(h, view, path, limits);
      writePrediction(this.w, row);
      this.push(row.model, row.version, row.id, [...Object.keys(row.num), ...Object.keys(row.cat), ...Object.keys(row.emb ?? {})], row.emb);
      return;
    }
    const w = this.w;
    writePredictionHead(w, h.model, h.version, h.ts, h.id, h.prediction, h.predictionNum, h.score, h.latencyMs);
    // num, then cat: features in attribute order (a missing value, or one of a type a feature
    // cannot have, is a missing number, as in rowOf).
    let at: number;
    let n = 0;
    let f = 0;
    if (allNum) {
      // The common record: its num map is the template's bytes with its numbers written in, and cat is empty.
      const t = (this.numTpl ??= numTemplate(list));
      const start = w.raw(t.bytes);
      for (let i = 0; i < attrs.size; i++) if (kinds[i].kind === FEATURE) w.f64At(start + t.at[f++], vals[i] as number);
      w.u8(0);
      if (segments === 0) this.shapeable = h;
    } else {
      at = w.beginMap();
      for (let i = 0; i < attrs.size; i++) {
        if (kinds[i].kind !== FEATURE) continue;
        const v = vals[i];
        const name = list[f++];
        if (typeof v === 'string') continue;
        w.name(name);
        w.f64(typeof v === 'number' ? v : NaN);
        n++;
      }
      w.endMap(at, n);
      at = w.beginMap();
      n = 0;
      f = 0;
      for (let i = 0; i < attrs.size; i++) {
        if (kinds[i].kind !== FEATURE) continue;
        const v = vals[i];
        const name = list[f++];
        if (typeof v !== 'string') continue;
        w.name(name);
        w.str(v);
        n++;
      }
      w.endMap(at, n);
    }
    at = w.beginMap();
    n = 0;
    for (let i = 0; segments > 0 && i < attrs.size; i++) {
      const v = vals[i];
      if (kinds[i].kind !== SEGMENT || (typeof v !== 'number' && typeof v !== 'string')) continue;
      w.name(kinds[i].name);
      w.str(String(v));
      n++;
    }
    w.endMap(at, n);
    w.vecMap(undefined);
    w.endRow();
    this.push(h.model, h.version, h.id, list, undefined);
  }

  /**
   * A record read by its shape (record-shape.ts): the head, then `names` (lastNames, or an array
   * equal to it) with `values` as all-number features, and no category, segment or vector: the
   * bytes record() writes for the same record.
   */
  shaped(model: string, version: string, ts: number, id: string, prediction: string, predictionNum: number, score: number, latencyMs: number, names: readonly string[], values: Float64Array): void {
    if (names !== this.lastNames) {
      // A record of another shape came between: this list (distinct names) is the last one again.
      this.lastNames = names;
      this.lastDistinct = true;
      this.numTpl = undefined;
    }
    const w = this.w;
    writePredictionHead(w, model, version, ts, id, prediction, predictionNum, score, latencyMs);
    const t = (this.numTpl ??= numTemplate(names));
    const start = w.raw(t.bytes);
    for (let f = 0; f < names.length; f++) w.f64At(start + t.at[f], values[f]);
    w.u8(0); // cat
    w.u8(0); // segment
    w.vecMap(undefined);
    w.endRow();
    this.push(model, version, id, names, undefined);
  }

  private push(model: string, version: string, id: string, names: readonly string[], emb: Record<string, ArrayLike<number>> | undefined): void {
    this.models.push(model);
    this.versions.push(version);
    this.ids.push(id);
    this.names.push(names);
    this.embs.push(emb);
  }
}

/** A num map of these (distinct) names, each value at `at[f]` (0 until written over). */
interface NumTemplate { bytes: Buffer; at: Int32Array }
function numTemplate(names: readonly string[]): NumTemplate {
  const w = new RowBinaryWriter(16 + names.length * 24);
  const at = new Int32Array(names.length);
  const m = w.beginMap();
  for (let f = 0; f < names.length; f++) {
    w.name(names[f]);
    at[f] = w.bytes;
    w.f64(0);
  }
  const before = w.bytes;
  w.endMap(m, names.length);
  // endMap moves the entries when the count takes more than one byte.
  const shift = w.bytes - before;
  for (let f = 0; shift !== 0 && f < names.length; f++) at[f] += shift;
  return { bytes: w.copy(), at };
}

/** Whether no segment name is given twice (rowOf keeps the last value of a repeated one). */
function distinctSegments(attrs: Attrs): boolean {
  const seen = new Set<string>();
  for (let i = 0; i < attrs.size; i++) {
    if (attrs.kinds[i].kind !== SEGMENT) continue;
    const key = attrs.keys[i];
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}
