// A small builder for the Grafana dashboard JSON this folder ships: panels, ClickHouse and
// Prometheus targets, template variables, and a row-by-row layout. Plain objects, no dependency:
// the output is the JSON model Grafana 10/11 reads (schemaVersion 39).
//
// Conventions every dashboard follows (the tests in test/dashboards/ rely on them):
// - datasources are template variables (`ds_clickhouse`, `ds_prometheus`), never `__inputs`;
// - a ClickHouse time-series query returns `time` first, then numbers, plus string columns that
//   name the series (the plugin turns long rows into one series per string value);
// - a table declares the columns it shows, in order, with an `organize` transformation;
// - a stat panel names the one column it reduces.

export type Json = Record<string, unknown>;

export const CLICKHOUSE = 'grafana-clickhouse-datasource';
export const PROMETHEUS = 'prometheus';
export const chDatasource = { type: CLICKHOUSE, uid: '${ds_clickhouse}' };
export const promDatasource = { type: PROMETHEUS, uid: '${ds_prometheus}' };

// ---- targets -----------------------------------------------------------------------------------

/** A ClickHouse SQL target. `timeSeries` = the plugin's time-series format (long rows -> series). */
export function sql(rawSql: string, kind: 'timeSeries' | 'table' = 'table'): Json {
  return {
    datasource: chDatasource,
    editorType: 'sql',
    queryType: kind,
    // sqlutil format options: 0 = time series, 1 = table.
    format: kind === 'timeSeries' ? 0 : 1,
    rawSql: dedent(rawSql),
  };
}

/** A PromQL target. */
export function promql(expr: string, legendFormat = '__auto', instant = false): Json {
  return {
    datasource: promDatasource,
    editorMode: 'code',
    expr: dedent(expr),
    legendFormat,
    range: !instant,
    instant,
  };
}

function dedent(text: string): string {
  const lines = text.replace(/^\n+|\s+$/g, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

// ---- panels ------------------------------------------------------------------------------------

export interface PanelOptions {
  title: string;
  description?: string;
  targets: Json[];
  /** Grid width (of 24) and height. */
  w?: number;
  h?: number;
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  /** Grafana's minimum query interval (e.g. '1m' over per-minute rollups). */
  interval?: string;
  overrides?: Json[];
  thresholds?: { color: string; value: number | null }[];
}

interface Panel extends Json { gridPos: { x: number; y: number; w: number; h: number } }

function base(type: string, o: PanelOptions, options: Json, extra: Json = {}): Panel {
  const datasource = (o.targets[0]?.datasource as Json | undefined) ?? chDatasource;
  return {
    type,
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource,
    ...(o.interval ? { interval: o.interval } : {}),
    gridPos: { x: 0, y: 0, w: o.w ?? 12, h: o.h ?? 8 },
    targets: o.targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), ...t })),
    fieldConfig: {
      defaults: {
        ...(o.unit ? { unit: o.unit } : {}),
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        ...(o.decimals !== undefined ? { decimals: o.decimals } : {}),
        ...(o.thresholds ? { thresholds: { mode: 'absolute', steps: o.thresholds } } : {}),
        ...(type === 'timeseries' ? { custom: { lineWidth: 1, fillOpacity: 0, showPoints: 'auto', spanNulls: true } } : {}),
      },
      overrides: o.overrides ?? [],
    },
    options,
    ...extra,
  };
}

export function timeseries(o: PanelOptions & { stack?: boolean }): Panel {
  const p = base('timeseries', o, {
    legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] },
    tooltip: { mode: 'multi', sort: 'desc' },
  });
  if (o.stack) ((p.fieldConfig as Json).defaults as Json).custom = { lineWidth: 1, fillOpacity: 30, stacking: { mode: 'normal', group: 'A' } };
  return p;
}

/** A single number: `field` is the column (or series) it reduces. */
export function stat(o: PanelOptions & { field?: string; calc?: string }): Panel {
  return base('stat', { w: 6, h: 4, ...o }, {
    reduceOptions: { calcs: [o.calc ?? 'lastNotNull'], fields: o.field ? `/^${o.field}$/` : '', values: false },
    colorMode: o.thresholds ? 'background' : 'value',
    graphMode: 'none',
    justifyMode: 'auto',
    textMode: 'value',
  });
}

/** A table showing exactly `columns`, in that order (`[name, display name]` to rename). */
export function table(o: PanelOptions & { columns: (string | [string, string])[]; sortBy?: string }): Panel {
  const names = o.columns.map((c) => (typeof c === 'string' ? c : c[0]));
  const renames = Object.fromEntries(o.columns.filter((c): c is [string, string] => typeof c !== 'string'));
  return base(
    'table',
    { w: 24, ...o },
    { showHeader: true, cellHeight: 'sm', ...(o.sortBy ? { sortBy: [{ displayName: renames[o.sortBy] ?? o.sortBy, desc: true }] } : {}) },
    {
      transformations: [
        {
          id: 'organize',
          options: { indexByName: Object.fromEntries(names.map((n, i) => [n, i])), renameByName: renames, excludeByName: {} },
        },
      ],
    },
  );
}

export function text(title: string, content: string, w = 24, h = 3): Panel {
  return { type: 'text', title, gridPos: { x: 0, y: 0, w, h }, options: { mode: 'markdown', content: dedent(content) } };
}

/** Overrides: draw series whose name matches `regex` dashed (e.g. thresholds beside statistics). */
export function dashed(regex: string): Json {
  return {
    matcher: { id: 'byRegexp', options: regex },
    properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }, { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }],
  };
}

/** Overrides: unit for the named column. */
export function columnUnit(column: string, unit: string, decimals?: number): Json {
  return {
    matcher: { id: 'byName', options: column },
    properties: [{ id: 'unit', value: unit }, ...(decimals !== undefined ? [{ id: 'decimals', value: decimals }] : [])],
  };
}

/** Overrides: the named column's cells link to another dashboard, passing the cell as `var-<variable>`. */
export function columnLinks(column: string, variable: string, targets: { title: string; uid: string }[]): Json {
  return {
    matcher: { id: 'byName', options: column },
    properties: [
      {
        id: 'links',
        value: targets.map((t) => ({ title: t.title, url: `/d/${t.uid}?var-${variable}=\${__value.raw}&\${__url_time_range}` })),
      },
    ],
  };
}

// ---- template variables ------------------------------------------------------------------------

export function datasourceVariable(name: string, pluginId: string, label: string): Json {
  return { type: 'datasource', name, label, query: pluginId, current: {}, hide: 0, refresh: 1, regex: '', options: [] };
}

/** A variable filled by a ClickHouse query (first column = values), refreshed with the time range. */
export function chVariable(name: string, label: string, query: string, o: { multi?: boolean; includeAll?: boolean } = {}): Json {
  const q = dedent(query);
  return {
    type: 'query',
    name,
    label,
    datasource: chDatasource,
    query: q,
    definition: q,
    refresh: 2,
    sort: 1,
    multi: o.multi ?? false,
    includeAll: o.includeAll ?? false,
    ...(o.includeAll ? { current: { selected: true, text: ['All'], value: ['$__all'] } } : { current: {} }),
    options: [],
    hide: 0,
    regex: '',
  };
}

/** A variable filled by Prometheus label values. */
export function promVariable(name: string, label: string, metric: string, labelName: string): Json {
  const q = `label_values(${metric}, ${labelName})`;
  return {
    type: 'query',
    name,
    label,
    datasource: promDatasource,
    query: { query: q, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
    definition: q,
    refresh: 2,
    sort: 1,
    multi: true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    hide: 0,
    regex: '',
  };
}

export function textboxVariable(name: string, label: string, value: string): Json {
  return { type: 'textbox', name, label, query: value, current: { text: value, value }, options: [{ selected: true, text: value, value }], hide: 0 };
}

// ---- dashboards --------------------------------------------------------------------------------

export interface DashboardOptions {
  uid: string;
  title: string;
  description: string;
  tags?: string[];
  variables: Json[];
  /** Rows of panels; each inner array is laid out left to right, wrapping at 24 columns. */
  rows: { title?: string; panels: Panel[] }[];
  time?: string;
  links?: boolean;
}

export function dashboard(o: DashboardOptions): Json {
  const panels: Json[] = [];
  let y = 0;
  let id = 1;
  for (const row of o.rows) {
    if (row.title) {
      panels.push({ type: 'row', title: row.title, id: id++, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
      y += 1;
    }
    let x = 0;
    let rowH = 0;
    for (const p of row.panels) {
      if (x + p.gridPos.w > 24) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      panels.push({ id: id++, ...p, gridPos: { ...p.gridPos, x, y } });
      x += p.gridPos.w;
      rowH = Math.max(rowH, p.gridPos.h);
    }
    y += rowH;
  }
  return {
    uid: o.uid,
    title: o.title,
    description: o.description,
    tags: ['driftwatch', ...(o.tags ?? [])],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    time: { from: o.time ?? 'now-6h', to: 'now' },
    refresh: '1m',
    timezone: 'browser',
    links: [{ type: 'dashboards', tags: ['driftwatch'], asDropdown: true, title: 'Driftwatch', includeVars: true, keepTime: true }],
    annotations: { list: [] },
    templating: { list: o.variables },
    panels,
  };
}
