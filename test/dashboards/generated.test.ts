// The committed dashboards are exactly what dashboards/src/ generates (`npx vitest run
// test/dashboards -u` rewrites them), and they follow the conventions provisioning relies on.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { join } from 'node:path';
import { DASHBOARDS, render } from '../../dashboards/src/index.js';
import { DASHBOARD_DIR, isClickHouse, isPrometheus, loadDashboards, panels } from './grafana.js';

describe('generated dashboards', () => {
  for (const [file, d] of Object.entries(DASHBOARDS)) {
    it(`${file} is current`, async () => {
      await expect(render(d)).toMatchFileSnapshot(join(DASHBOARD_DIR, file));
    });
  }

  it('ships no other dashboard file', () => {
    expect(readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort()).toEqual(Object.keys(DASHBOARDS).sort());
  });
});

describe('dashboard conventions', () => {
  const dashboards = loadDashboards();

  it('has stable, unique uids and titles', () => {
    const uids = dashboards.map((d) => d.json.uid);
    expect(uids).toEqual(['driftwatch-collector', 'driftwatch-fleet', 'driftwatch-latency', 'driftwatch-model-drift', 'driftwatch-performance']);
    expect(new Set(dashboards.map((d) => d.json.title)).size).toBe(dashboards.length);
  });

  for (const { file, json } of dashboards) {
    it(`${file}: datasources come from template variables, never __inputs`, () => {
      expect(json.__inputs).toBeUndefined();
      const vars = json.templating.list as { name: string; type: string; query: unknown }[];
      const dsVars = new Map(vars.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query]));
      const used = new Set<string>();
      for (const p of panels(json)) {
        if (p.type === 'row' || p.type === 'text') continue;
        for (const t of [p, ...(p.targets ?? [])]) {
          const ds = t.datasource;
          expect(isClickHouse(ds) || isPrometheus(ds), `${p.title}: datasource ${JSON.stringify(ds)}`).toBe(true);
          const name = /^\$\{(\w+)\}$/.exec(ds.uid)?.[1];
          expect(name, `${p.title}: datasource uid ${ds.uid} is not a variable`).toBeDefined();
          expect(dsVars.get(name!)).toBe(ds.type);
          used.add(name!);
        }
      }
      for (const v of vars.filter((v) => v.type === 'query')) used.add(/^\$\{(\w+)\}$/.exec((v as any).datasource.uid)![1]);
      // Every datasource variable is used, so no dashboard asks for a datasource it does not read.
      expect([...dsVars.keys()].sort()).toEqual([...used].sort());
    });

    it(`${file}: panels have unique ids and fit the 24-column grid`, () => {
      const ps = panels(json);
      expect(new Set(ps.map((p) => p.id)).size).toBe(ps.length);
      for (const p of ps) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    });

    it(`${file}: model-scoped dashboards populate model and version from queries`, () => {
      const vars = Object.fromEntries((json.templating.list as any[]).map((v) => [v.name, v]));
      const sql = JSON.stringify(panels(json).flatMap((p) => p.targets ?? []));
      if (!sql.includes('${model}')) return;
      for (const name of ['model', 'version']) {
        expect(vars[name]?.type).toBe('query');
        expect(isClickHouse(vars[name].datasource)).toBe(true);
        expect(vars[name].refresh).toBe(2); // on time range change
      }
    });
  }
});

describe('provisioning files', () => {
  const root = new URL('../../dashboards/provisioning/', import.meta.url).pathname;

  it('provision one datasource of each type the dashboards ask for', () => {
    const file = parse(readFileSync(join(root, 'datasources/driftwatch.yaml'), 'utf8'));
    expect(file.apiVersion).toBe(1);
    const types = (file.datasources as { type: string; uid: string }[]).map((d) => d.type).sort();
    const wanted = new Set<string>();
    for (const { json } of loadDashboards()) for (const v of json.templating.list) if (v.type === 'datasource') wanted.add(v.query);
    expect(types).toEqual([...wanted].sort());
  });

  it('provision the dashboards from a file provider into one folder', () => {
    const file = parse(readFileSync(join(root, 'dashboards/driftwatch.yaml'), 'utf8'));
    expect(file.apiVersion).toBe(1);
    expect(file.providers).toHaveLength(1);
    expect(file.providers[0]).toMatchObject({ type: 'file', folder: 'Driftwatch', options: { path: expect.any(String) } });
  });
});

describe('links between dashboards', () => {
  it('point at dashboards that exist', () => {
    const dashboards = loadDashboards();
    const uids = new Set(dashboards.map((d) => d.json.uid));
    const targets = dashboards.flatMap((d) => [...JSON.stringify(d.json).matchAll(/"url":\s*"\/d\/([\w-]+)/g)].map((m) => m[1]));
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(uids).toContain(t);
  });
});
