// Silences (maintenance windows): label matchers plus a time range, Alertmanager-style. A silenced
// alert keeps its state (pending, firing, resolved) but is not notified while the silence is
// active. Silences come from rule files (`silences:`) and from the API (stored in ClickHouse).
import { randomUUID } from 'node:crypto';

/** The same shape as Alertmanager's API v2 matcher. */
export interface Matcher { name: string; value: string; isRegex: boolean; isEqual: boolean }

export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  comment: string;
  createdBy: string;
  source: 'file' | 'api';
}

const MATCHER_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;

/** Parses `name="value"`, `name!=value`, `name=~"re"`, `name!~"re"` (quotes optional). */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_RE.exec(text);
  if (!m) throw new Error(`"${text}" is not a matcher (use name="value", name!="value", name=~"regex" or name!~"regex")`);
  let value = m[3];
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      value = JSON.parse(value) as string;
    } catch {
      throw new Error(`"${text}": bad quoted value`);
    }
  }
  const matcher = { name: m[1], value, isRegex: m[2] === '=~' || m[2] === '!~', isEqual: m[2] === '=' || m[2] === '=~' };
  validateMatcher(matcher);
  return matcher;
}

export function validateMatcher(m: Matcher): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m.name)) throw new Error(`matcher name "${m.name}" is not a label name`);
  if (m.isRegex) {
    try {
      new RegExp(`^(?:${m.value})$`);
    } catch (e) {
      throw new Error(`matcher ${m.name}: bad regex: ${(e as Error).message}`);
    }
  }
}

/**
 * Like Alertmanager: a silence needs at least one matcher that does not match an absent label
 * (the empty string), or it would silence every alert.
 */
export function checkMatchers(ms: Matcher[]): void {
  if (ms.length === 0 || ms.every((m) => matcherMatches(m, {}))) {
    throw new Error('at least one matcher must not match the empty string (a silence cannot cover every alert)');
  }
}

export function formatMatcher(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return `${m.name}${op}${JSON.stringify(m.value)}`;
}

const regexCache = new Map<string, RegExp>();

/** Like Alertmanager: regexes are anchored; an absent label matches as the empty string. */
export function matcherMatches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  let hit: boolean;
  if (m.isRegex) {
    let re = regexCache.get(m.value);
    if (!re) regexCache.set(m.value, (re = new RegExp(`^(?:${m.value})$`)));
    hit = re.test(v);
  } else {
    hit = v === m.value;
  }
  return m.isEqual ? hit : !hit;
}

export function silenceActive(s: Silence, now: number): boolean {
  return s.startsAt <= now && now < s.endsAt;
}

export function silences(s: Silence, labels: Record<string, string>, now: number): boolean {
  return silenceActive(s, now) && s.matchers.every((m) => matcherMatches(m, labels));
}

export function newSilenceId(): string {
  return randomUUID();
}

/** The silences a collector knows: those of its rule files, plus those created through the API. */
export class SilenceSet {
  private api = new Map<string, Silence>();

  constructor(private readonly fromFiles: Silence[] = []) {}

  /** Replaces the API silences (after reading them from the store). */
  setApi(list: Silence[]): void {
    this.api = new Map(list.map((s) => [s.id, s]));
  }

  putApi(s: Silence): void {
    this.api.set(s.id, s);
  }

  deleteApi(id: string): boolean {
    return this.api.delete(id);
  }

  get(id: string): Silence | undefined {
    return this.api.get(id) ?? this.fromFiles.find((s) => s.id === id);
  }

  list(): Silence[] {
    return [...this.fromFiles, ...this.api.values()];
  }

  /** The first active silence matching these labels, if any. */
  match(labels: Record<string, string>, now: number): Silence | undefined {
    for (const s of this.fromFiles) if (silences(s, labels, now)) return s;
    for (const s of this.api.values()) if (silences(s, labels, now)) return s;
    return undefined;
  }
}
