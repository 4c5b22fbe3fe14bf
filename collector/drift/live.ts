// Live drift. Each model version has a baseline stored as a profile (profile.ts): its first N
// predictions (automatic), an explicit past window, or an uploaded reference file. The reference is
// never re-read: drift compares the profile with the current window, counted from the per-minute
// rollups (drift_minutes, binned with the profile's edges at insert time; category_minutes;
// prediction_minutes) or, for short windows and windows older than the profile's rollups, from raw
// rows. KS and Wasserstein always read the window's raw values (rollup-drift.ts).
//
// Windows: the last `window` of traffic after the baseline. A window of ROLLUP_MIN_WINDOW_MS or
// more is read from the rollups as whole minutes, from the minute holding now - window up to and
// including the current minute (a baseline ending inside the first minute: that minute's rows after
// it come from raw rows); a shorter one from raw rows, to the millisecond.
//
// Changing a baseline: the new profile is stored; the rollups of the new profile are backfilled
// from raw rows (ts from `rollup_from` on: the last `backfillMs`, at most) received until t0 while
// the previous baseline still serves; then the baseline row is written (from that instant the
// materialized view bins new rows with the new edges) and the rows received between t0 and that
// instant are backfilled too. A row received in the very instant of the switch can be counted twice
// or not at all in the new rollups; re-sent records count twice there too (README, Guarantees).
// Another collector picks the new baseline up at its next ensureBaselines.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { tsText } from '../store/writer.js';
import { driftFromSources, type MinEffectSize } from './engine.js';
import { buildProfile, loadProfile, type Profile, type ReferenceSources } from './profile.js';
import { DriftInputError, type ColumnDrift, type DriftReport, type Method } from './report.js';
import { addCounts, currentFromRaw, currentFromRollups, MINUTE_MS, profileReport, type CurrentCounts, type MinuteWindow } from './rollup-drift.js';
import { rawCategoricalSource, rawNumericSource } from './sources.js';
import { addEmbeddingSums, buildEmbeddingProfiles, embeddingColumns, embeddingSumsFromRaw, embeddingSumsFromRollups, loadEmbeddingProfiles, segmentEmbeddingColumns, storeEmbeddingProfiles, type EmbeddingProfile, type EmbeddingSums } from './embedding.js';
import { referenceEmbeddingProfiles } from './vectors.js';

export interface Baseline {
  model: string;
  version: string;
  /** The reference's time range (0, 0 for an uploaded reference). */
  fromMs: number;
  toMs: number;
  rows: number;
  source: string;
  /** The stored profile (drift_profiles). */
  profileId: number;
  /** drift_minutes holds this profile's counts for every minute from here on. */
  rollupFromMs: number;
}

export interface LiveDriftResult {
  model: string;
  version: string;
  windowMs: number;
  computedAt: number;
  baseline: Baseline;
  report: DriftReport;
  /** Where the current counts came from. */
  read?: 'rollups' | 'raw';
  /** The current window actually compared, [from, to). */
  window?: { fromMs: number; toMs: number };
}

export interface SegmentDriftResult extends LiveDriftResult {
  segment: { key: string; value: string };
}

export interface LiveDriftOptions {
  baselineRows: number;
  /** Results younger than this are served from memory (several rules share one computation). */
  cacheMs?: number;
  /** How far back a new profile's rollups are backfilled from raw rows; default 2 days. */
  backfillMs?: number;
  onResult?: (r: LiveDriftResult) => void;
  /**
   * The effect-size guard of ks and chisquare verdicts (engine.ts): on by default in live drift, so
   * a big window's tiny p-values do not flag negligible differences; false for the conventions' verdicts.
   */
  minEffectSize?: boolean | Partial<MinEffectSize>;
  /** ensureBaselines does its work at most this often; default 5 s. */
  ensureIntervalMs?: number;
  /** ks/wasserstein (also when `auto` picks them) refuse windows with more raw current values; default MAX_RAW_VALUES. */
  maxRawValues?: number;
}

/** Windows at least this long are read from the rollups (whole minutes). */
export const ROLLUP_MIN_WINDOW_MS = 10 * MINUTE_MS;
/** A current window and the part of it the rollups serve (see LiveDrift.window). */
export interface CurrentWindow { w: MinuteWindow; rollupsFrom?: number; rollupsTo?: number }
/** Per-segment drift reports at most this many segment values (the largest in the window). */
export const MAX_SEGMENTS = 50;

const DEFAULT_BACKFILL_MS = 2 * 86_400_000;
const key = (model: string, version: string) => `${model}\u0000${version}`;
const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;
const ceilMinute = (ms: number) => Math.ceil(ms / MINUTE_MS) * MINUTE_MS;
/** DateTime64(3) text for inserts (unambiguous even at the epoch, unlike unix-seconds text). */
const dateTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** Where a new baseline's reference comes from. */
export type BaselineSpec =
  | { kind: 'range'; fromMs: number; toMs: number; source: string }
  | {
      kind: 'sources';
      sources: ReferenceSources;
      rows: number;
      source: string;
      /** Sees the file's embedding profiles before anything is stored; throws to refuse the baseline. */
      checkEmbeddings?: (profiles: readonly EmbeddingProfile[]) => void;
    };

/** Adds columns to a report (after its own) and counts its verdicts again. */
function addColumns(report: DriftReport, columns: ColumnDrift[]): void {
  report.columns.push(...columns);
  report.drifted_columns = report.columns.filter((c) => c.drift).length;
  report.dataset_drift = report.columns.length > 0 && report.drifted_columns / report.columns.length >= report.drift_share;
}

/**
 * A current window's counts (or sums): its whole minutes [rollupsFrom, rollupsTo) from the rollups,
 * the rest of [fromMs, toMs) from raw rows (see LiveDrift.window); all raw rows without rollupsFrom.
 */
async function fromWindow<T>(win: CurrentWindow, rollups: (m: MinuteWindow) => Promise<T>, raw: (m: MinuteWindow) => Promise<T>, add: (a: T, b: T) => T): Promise<T> {
  const { w, rollupsFrom, rollupsTo = w.toMs } = win;
  if (rollupsFrom === undefined) return raw(w);
  let out: T = await rollups({ fromMs: rollupsFrom, toMs: rollupsTo });
  if (rollupsFrom > w.fromMs) out = add(out, await raw({ fromMs: w.fromMs, toMs: rollupsFrom }));
  if (rollupsTo < w.toMs) out = add(out, await raw({ fromMs: rollupsTo, toMs: w.toMs }));
  return out;
}

/** A promise kept by key, forgotten if it rejects (so a failed load is retried, not cached). */
function memo<T>(cache: Map<string, Promise<T>>, k: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(k);
  if (!p) {
    p = load();
    cache.set(k, p);
    p.catch(() => cache.delete(k));
  }
  return p;
}

export class LiveDrift {
  private baselines = new Map<string, Baseline>();
  private profiles = new Map<string, Promise<Profile | undefined>>();
  private embProfiles = new Map<string, Promise<EmbeddingProfile[]>>();
  /**
   * Per-segment reference tr(Sigma^2) of embeddings, by baseline range, segment, embedding and
   * sample size: the Gram query is most of a per-segment request's cost (seconds at d = 768), and a
   * dashboard asks again every refresh. Bounded; a new baseline has another range, hence other keys.
   */
  private segmentGram = new Map<string, Promise<number>>();
  private cache = new Map<string, LiveDriftResult>();
  private computing = new Map<string, Promise<LiveDriftResult | undefined>>();
  private changes: Promise<unknown> = Promise.resolve();
  /** Versions whose baseline this process is changing (their new row is not used before the change ends). */
  private pending = new Set<string>();
  private lastProfileId = 0;

  constructor(private readonly client: ClickHouseClient, private readonly o: LiveDriftOptions) {}

  /** Loads the baselines (at start, and before each ensureBaselines: another collector may have changed one). */
  async loadBaselines(): Promise<void> {
    const rows = await queryRows<{ model: string; version: string; source: string; from_ms: string; to_ms: string; rows: string; profile_id: string; rollup_ms: string }>(
      this.client,
      `SELECT model, version, source, toUnixTimestamp64Milli(from_ts) AS from_ms, toUnixTimestamp64Milli(to_ts) AS to_ms, rows,
              profile_id, toUnixTimestamp64Milli(rollup_from) AS rollup_ms
       FROM baselines FINAL`,
    );
    for (const r of rows) {
      const b: Baseline = {
        model: r.model, version: r.version, source: r.source, fromMs: Number(r.from_ms), toMs: Number(r.to_ms), rows: Number(r.rows),
        profileId: Number(r.profile_id), rollupFromMs: Number(r.rollup_ms),
      };
      this.lastProfileId = Math.max(this.lastProfileId, b.profileId);
      const known = this.baseline(b.model, b.version);
      if ((known && known.profileId >= b.profileId) || this.pending.has(key(b.model, b.version))) continue;
      if (b.profileId === 0) {
        // A baseline from before profiles: profile its time range once.
        await this.setBaseline(b.model, b.version, { kind: 'range', fromMs: b.fromMs, toMs: b.toMs, source: b.source });
      } else {
        this.baselines.set(key(b.model, b.version), b);
      }
    }
  }

  baseline(model: string, version: string): Baseline | undefined {
    return this.baselines.get(key(model, version));
  }

  /** The profile of a version's current baseline. */
  profile(model: string, version: string): Promise<Profile | undefined> {
    const b = this.baseline(model, version);
    if (!b) return Promise.resolve(undefined);
    return memo(this.profiles, `${key(model, version)}\u0000${b.profileId}`, () => loadProfile(this.client, model, version, b.profileId));
  }

  /** The embedding profiles of a version's current baseline (empty when it has none). */
  embeddingProfiles(model: string, version: string): Promise<EmbeddingProfile[]> {
    const b = this.baseline(model, version);
    if (!b) return Promise.resolve([]);
    return memo(this.embProfiles, `${key(model, version)}\u0000${b.profileId}`, () => loadEmbeddingProfiles(this.client, model, version, b.profileId));
  }

  /** Embedding sums of the current window, split between rollups and raw rows as `current` does. */
  private currentEmbeddings(model: string, version: string, win: CurrentWindow): Promise<EmbeddingSums[]> {
    return fromWindow(
      win,
      (m) => embeddingSumsFromRollups(this.client, model, version, m.fromMs, m.toMs),
      (m) => embeddingSumsFromRaw(this.client, model, version, m.fromMs, m.toMs),
      addEmbeddingSums,
    );
  }

  /**
   * Picks up baselines changed elsewhere and creates baselines for versions that have reached N
   * predictions and have none yet. The search scans the predictions of versions without a baseline,
   * so it runs at most every `ensureIntervalMs` (rules call this at every evaluation).
   */
  async ensureBaselines(): Promise<void> {
    if (this.ensuring) return this.ensuring;
    if (Date.now() - this.lastEnsure < (this.o.ensureIntervalMs ?? 5000)) return;
    this.ensuring = this.ensure().finally(() => {
      this.lastEnsure = Date.now();
      this.ensuring = undefined;
    });
    return this.ensuring;
  }

  private ensuring: Promise<void> | undefined;
  private lastEnsure = 0;

  private async ensure(): Promise<void> {
    await this.loadBaselines();
    const n = this.o.baselineRows;
    const candidates = await queryRows<{ model: string; version: string; rows: string; from_ms: string; to_ms: string }>(
      this.client,
      `SELECT model, version, count() AS rows,
              toUnixTimestamp64Milli(min(ts)) AS from_ms, toUnixTimestamp64Milli(max(ts)) AS to_ms
       FROM (
         SELECT model, version, ts FROM predictions
         WHERE (model, version) NOT IN (SELECT model, version FROM baselines)
         ORDER BY model, version, ts LIMIT {n:UInt64} BY model, version)
       GROUP BY model, version HAVING rows >= {n:UInt64}`,
      { n },
    );
    for (const c of candidates) {
      if (this.baseline(c.model, c.version)) continue;
      await this.setBaseline(c.model, c.version, { kind: 'range', fromMs: Number(c.from_ms), toMs: Number(c.to_ms), source: `first ${n} predictions` });
    }
  }

  /**
   * Makes `spec` the baseline of a model version: profiles the reference, stores profile and
   * baseline, backfills the rollups. Baseline changes run one at a time.
   */
  setBaseline(model: string, version: string, spec: BaselineSpec, now = Date.now()): Promise<Baseline> {
    const k = key(model, version);
    const run = this.changes.then(async () => {
      this.pending.add(k);
      try {
        return await this.change(model, version, spec, now);
      } finally {
        this.pending.delete(k);
      }
    });
    this.changes = run.catch(() => undefined);
    return run;
  }

  private async change(model: string, version: string, spec: BaselineSpec, now: number): Promise<Baseline> {
    const profileId = Math.max(Date.now(), this.lastProfileId + 1);
    this.lastProfileId = profileId;
    let sources: ReferenceSources;
    let rows: number;
    if (spec.kind === 'range') {
      if (!(spec.toMs >= spec.fromMs)) throw new DriftInputError('baseline: "to" must not be before "from"');
      const params = { dw_model: model, dw_version: version, dw_ref_from: dateTime(spec.fromMs), dw_ref_to: dateTime(spec.toMs) };
      sources = {
        numeric: { sql: rawNumericSource([[0, 'dw_ref_from', 'dw_ref_to']]), params },
        categorical: { sql: rawCategoricalSource([[0, 'dw_ref_from', 'dw_ref_to']]), params },
      };
      const [c] = await queryRows<{ n: string }>(
        this.client,
        `SELECT count() AS n FROM predictions WHERE model = {dw_model:String} AND version = {dw_version:String} AND ts >= {dw_ref_from:DateTime64(3)} AND ts <= {dw_ref_to:DateTime64(3)}`,
        params,
      );
      rows = Number(c.n);
      if (rows === 0) throw new DriftInputError(`baseline: model "${model}" version "${version}" has no predictions between ${new Date(spec.fromMs).toISOString()} and ${new Date(spec.toMs).toISOString()}`);
    } else {
      sources = spec.sources;
      rows = spec.rows;
    }
    // An uploaded file's vector columns, summarised before anything is stored: a bad one (vectors of
    // different lengths) fails the baseline whole.
    const uploaded = spec.kind === 'sources' && sources.embedding ? await referenceEmbeddingProfiles(this.client, sources.embedding) : [];
    if (spec.kind === 'sources') spec.checkEmbeddings?.(uploaded);
    const profile = await buildProfile(this.client, model, version, profileId, sources);
    if (profile.features.size === 0 && uploaded.length === 0) throw new DriftInputError('baseline: the reference has no feature values');
    // Embeddings: from a time range's raw rows, or the file's vector columns.
    if (spec.kind === 'range') await buildEmbeddingProfiles(this.client, model, version, profileId, spec.fromMs, spec.toMs, rows);
    else await storeEmbeddingProfiles(this.client, model, version, profileId, uploaded);
    const fromMs = spec.kind === 'range' ? spec.fromMs : 0;
    const toMs = spec.kind === 'range' ? spec.toMs : 0;
    const rollupFromMs = floorMinute(Math.max(now - (this.o.backfillMs ?? DEFAULT_BACKFILL_MS), toMs + 1));
    // 1. Rows received until t0 are counted from raw rows while the previous baseline still serves.
    const [{ t0 }] = await queryRows<{ t0: string }>(this.client, "SELECT toString(now64(3, 'UTC')) AS t0");
    await this.backfill(model, version, profileId, rollupFromMs, undefined, t0);
    // 2. The switch: from the baseline row's created_at on, the view bins new rows with this profile.
    await this.client.insert({
      table: 'baselines',
      format: 'JSONEachRow',
      values: [{ model, version, source: spec.source, from_ts: dateTime(fromMs), to_ts: dateTime(toMs), rows, profile_id: profileId, rollup_from: dateTime(rollupFromMs) }],
    });
    // 3. The rows received between t0 and the switch (a moment's worth).
    await this.backfill(model, version, profileId, rollupFromMs, t0, undefined);
    const b: Baseline = { model, version, source: spec.source, fromMs, toMs, rows, profileId, rollupFromMs };
    this.profiles.set(`${key(model, version)}\u0000${profileId}`, Promise.resolve(profile));
    this.baselines.set(key(model, version), b);
    for (const k of this.cache.keys()) if (k.startsWith(`${key(model, version)}\u0000`)) this.cache.delete(k);
    return b;
  }

  /**
   * Adds to drift_minutes the counts of profile `profileId` for raw rows with ts >= fromMs received
   * in [receivedFrom, receivedTo) (server time text; undefined = open; the upper bound defaults to
   * the switch, the profile's baseline row's created_at). The same bins as the view's.
   */
  private async backfill(model: string, version: string, profileId: number, fromMs: number, receivedFrom: string | undefined, receivedTo: string | undefined): Promise<void> {
    const upper = receivedTo !== undefined
      ? 'received_at < toDateTime64({r1:String}, 3, \'UTC\')'
      : 'received_at < (SELECT max(created_at) FROM baselines WHERE model = {m:String} AND version = {v:String} AND profile_id = {p:UInt64})';
    const lower = receivedFrom !== undefined ? ' AND received_at >= toDateTime64({r0:String}, 3, \'UTC\')' : '';
    await this.client.command({
      query: `INSERT INTO drift_minutes (model, version, profile_id, feature, minute, bins)
        SELECT s.model, s.version, p.profile_id, s.feature, toStartOfMinute(s.ts) AS minute,
               sumMap(map(multiIf(isNaN(s.v), toUInt16(65534), isInfinite(s.v), toUInt16(65535),
                                  toUInt16(arrayCount(e -> e <= s.v, p.edges) * 2 + (s.v < p.min OR s.v > p.max))), toUInt64(1))) AS bins
        FROM (
          SELECT model, version, ts, x.1 AS feature, x.2 AS v FROM predictions
          ARRAY JOIN arrayConcat(
            arrayZip(CAST(mapKeys(num), 'Array(String)'), mapValues(num)),
            arrayFilter(y -> NOT isNaN(y.2), [('@score', score), ('@prediction', prediction_num)])) AS x
          WHERE model = {m:String} AND version = {v:String} AND ts >= {from:DateTime64(3)} AND ${upper}${lower}
        ) AS s
        INNER JOIN (
          SELECT feature, profile_id, edges, min, max FROM drift_profiles
          WHERE model = {m:String} AND version = {v:String} AND profile_id = {p:UInt64} AND type = 'numerical'
        ) AS p ON s.feature = p.feature
        GROUP BY s.model, s.version, p.profile_id, s.feature, minute`,
      query_params: { m: model, v: version, p: profileId, from: tsText(fromMs), r0: receivedFrom ?? '', r1: receivedTo ?? '' },
    });
  }

  /** Model versions that have a baseline. */
  versions(): Baseline[] {
    return [...this.baselines.values()];
  }

  /**
   * The current window of a baseline for `windowMs` ending at `now`, and which part the rollups
   * serve: whole minutes from `rollupsFrom` to `rollupsTo` (default: the window's end); the rest (a
   * minute at most right after the baseline's end; for a short window, the partial minutes at both
   * ends) is counted from raw rows. No `rollupsFrom`: raw rows only.
   */
  window(b: Baseline, windowMs: number, now: number): CurrentWindow | undefined {
    // The current window never overlaps the baseline.
    if (windowMs >= ROLLUP_MIN_WINDOW_MS) {
      const w = { fromMs: Math.max(floorMinute(now - windowMs), b.toMs + 1), toMs: floorMinute(now) + MINUTE_MS };
      if (w.fromMs >= w.toMs) return undefined;
      const rollupsFrom = ceilMinute(w.fromMs);
      return { w, rollupsFrom: rollupsFrom < w.toMs && rollupsFrom >= b.rollupFromMs ? rollupsFrom : undefined };
    }
    // A short window keeps its bounds to the millisecond: the whole minutes inside it from the
    // rollups (the same counts as their raw rows), the partial minutes at its ends from raw rows. A
    // 5-minute rule at 15k predictions/s read 4.5M raw rows (0.5-1.5 s, the embedded engine's inserts
    // waiting behind it); now a minute of them at most.
    const w = { fromMs: Math.max(now - windowMs, b.toMs + 1), toMs: now + 1 };
    if (w.fromMs >= w.toMs) return undefined;
    const rollupsFrom = ceilMinute(w.fromMs);
    const rollupsTo = floorMinute(w.toMs);
    return rollupsFrom < rollupsTo && rollupsFrom >= b.rollupFromMs ? { w, rollupsFrom, rollupsTo } : { w };
  }

  private current(p: Profile, win: CurrentWindow): Promise<CurrentCounts> {
    return fromWindow(win, (m) => currentFromRollups(this.client, p, m), (m) => currentFromRaw(this.client, p, m), addCounts);
  }

  /** Drift of one model version over the window ending now; undefined when the window is empty. */
  async compute(model: string, version: string, windowMs: number, method: Method | 'auto', now = Date.now()): Promise<LiveDriftResult | undefined> {
    const k = `${key(model, version)}\u0000${windowMs}\u0000${method}`;
    const hit = this.cache.get(k);
    if (hit && now - hit.computedAt < (this.o.cacheMs ?? 5000)) return hit;
    const running = this.computing.get(k);
    if (running) return running;
    const p = this.run(model, version, windowMs, method, now).finally(() => this.computing.delete(k));
    this.computing.set(k, p);
    return p;
  }

  private async run(model: string, version: string, windowMs: number, method: Method | 'auto', now: number): Promise<LiveDriftResult | undefined> {
    const baseline = this.baseline(model, version);
    if (!baseline) return undefined;
    const embProfiles = await this.embeddingProfiles(model, version);
    // An uploaded reference of vector columns only has no scalar profile rows: an empty profile.
    const profile = (await this.profile(model, version)) ?? (embProfiles.length > 0 ? { model, version, profileId: baseline.profileId, features: new Map() } : undefined);
    if (!profile) return undefined;
    const win = this.window(baseline, windowMs, now);
    if (!win) return undefined;
    const report = await profileReport(this.client, profile, await this.current(profile, win), win.w, { method, maxRawValues: this.o.maxRawValues, minEffectSize: this.o.minEffectSize ?? true });
    if (embProfiles.length > 0) {
      const sums = await this.currentEmbeddings(model, version, win);
      // A baseline of vector columns only has no scalar rows to count: the embeddings' count then.
      report.reference_rows = Math.max(report.reference_rows, ...embProfiles.map((p) => p.rows));
      report.current_rows = Math.max(report.current_rows, ...sums.map((s) => s.rows));
      if (report.current_rows > 0) addColumns(report, embeddingColumns(embProfiles, sums, report.current_rows));
    }
    if (report.current_rows === 0) return undefined;
    const result: LiveDriftResult = { model, version, windowMs, computedAt: now, baseline, report, read: win.rollupsFrom === undefined ? 'raw' : 'rollups', window: win.w };
    this.cache.set(`${key(model, version)}\u0000${windowMs}\u0000${method}`, result);
    await this.save(result);
    this.o.onResult?.(result);
    return result;
  }

  /**
   * Drift per value of the segment key `segmentKey` (the MAX_SEGMENTS values with the most current
   * predictions): each segment's current window against the same segment's rows of the baseline's
   * time range, both read from raw rows (scalar columns by the engine, then the baseline's embeddings
   * by segmentEmbeddingColumns, after them as in the whole report). Not stored nor exported as gauges.
   */
  async computeSegments(model: string, version: string, windowMs: number, method: Method | 'auto', segmentKey: string, now = Date.now()): Promise<SegmentDriftResult[]> {
    const baseline = this.baseline(model, version);
    if (!baseline) return [];
    if (baseline.fromMs === 0 && baseline.toMs === 0) {
      throw new DriftInputError(`per-segment drift needs a baseline from a time range; model "${model}" version "${version}" has an uploaded one`);
    }
    const curFrom = Math.max(now - windowMs, baseline.toMs + 1);
    if (curFrom > now) return [];
    const base = { dw_model: model, dw_version: version, dw_ref_from: tsText(baseline.fromMs), dw_ref_to: tsText(baseline.toMs), dw_cur_from: tsText(curFrom), dw_cur_to: tsText(now), dw_seg_key: segmentKey };
    const values = await queryRows<{ value: string }>(
      this.client,
      `SELECT segment[{dw_seg_key:String}] AS value, count() AS c FROM predictions
       WHERE model = {dw_model:String} AND version = {dw_version:String} AND ts >= {dw_cur_from:DateTime64(3)} AND ts <= {dw_cur_to:DateTime64(3)}
         AND mapContains(segment, {dw_seg_key:String})
       GROUP BY value ORDER BY c DESC, value LIMIT ${MAX_SEGMENTS}`,
      base,
    );
    const filter = 'segment[{dw_seg_key:String}] = {dw_seg_value:String} AND mapContains(segment, {dw_seg_key:String})';
    const sides = [[0, 'dw_ref_from', 'dw_ref_to'], [1, 'dw_cur_from', 'dw_cur_to']] as const;
    const embProfiles = await this.embeddingProfiles(model, version);
    const out: SegmentDriftResult[] = [];
    for (const { value } of values) {
      const params = { ...base, dw_seg_value: value };
      const report = await driftFromSources(this.client, {
        numeric: { sql: rawNumericSource(sides, filter), params },
        categorical: { sql: rawCategoricalSource(sides, filter), params },
        method,
        emptyColumns: 'skip',
        minEffectSize: this.o.minEffectSize ?? true,
      });
      // Rows without the embedding are missing: the segment's predictions count (@prediction's rows).
      const rows = { ref: report.reference_rows, cur: report.current_rows };
      if (this.segmentGram.size > 10_000) this.segmentGram.clear();
      addColumns(report, await segmentEmbeddingColumns(this.client, embProfiles, filter, params, rows, values.length, (k, load) => memo(this.segmentGram, k, load)));
      out.push({ model, version, windowMs, computedAt: now, baseline, report, read: 'raw', window: { fromMs: curFrom, toMs: now + 1 }, segment: { key: segmentKey, value } });
    }
    return out.sort((a, b) => (a.segment.value < b.segment.value ? -1 : a.segment.value > b.segment.value ? 1 : 0));
  }

  private async save(r: LiveDriftResult): Promise<void> {
    if (r.report.columns.length === 0) return;
    await this.client.insert({
      table: 'drift_results',
      format: 'JSONEachRow',
      values: r.report.columns.map((c) => ({
        ts: tsText(r.computedAt),
        model: r.model,
        version: r.version,
        window_seconds: Math.round(r.windowMs / 1000),
        feature: c.column,
        type: c.type,
        method: c.method,
        statistic: c.statistic,
        p_value: c.p_value,
        threshold: c.threshold,
        drift: c.drift,
        reference_rows: r.report.reference_rows,
        current_rows: r.report.current_rows,
        reference_missing: c.reference_missing,
        current_missing: c.current_missing,
      })),
    });
  }
}
