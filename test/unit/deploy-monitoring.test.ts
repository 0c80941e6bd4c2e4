/**
 * The shipped alert rules and dashboard parse, and every query in them names a metric that
 * watch exports (read from a real registry, so a renamed metric breaks this test).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { WatchMetrics } from '../../src/watch/metrics.ts';

const root = new URL('../..', import.meta.url).pathname;

/** The dualsync_* names an expression uses. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bdualsync_[a-z_]+\b/g)].map((m) => m[0]);
}

async function exported(): Promise<Set<string>> {
  const metrics = new WatchMetrics({ version: '0.0.0', s5cmdVersion: '2.3.0' });
  const families = await metrics.registry.getMetricsAsJSON();
  return new Set(families.map((family) => family.name));
}

describe('deploy/ monitoring files', () => {
  it('alerts.yml is a rule file whose no-successful-cycle alert reads exported metrics', async () => {
    const names = await exported();
    const rules = parse(readFileSync(`${root}deploy/prometheus/alerts.yml`, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; for: string }[] }[] };
    const all = rules.groups.flatMap((group) => group.rules);
    const noCycle = all.find((rule) => rule.alert === 'DualsyncNoSuccessfulCycle');
    expect(noCycle?.expr).toContain('dualsync_last_success_timestamp_seconds');
    for (const rule of all) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      for (const name of metricNames(rule.expr)) expect(names, `${rule.alert}: ${name}`).toContain(name);
    }
  });

  it('dashboard.json parses, and each panel queries an exported metric', async () => {
    const names = await exported();
    const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/dashboard.json`, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const panel of dashboard.panels) {
      const used = panel.targets.flatMap((target) => metricNames(target.expr));
      expect(used.length, panel.title).toBeGreaterThan(0);
      for (const name of used) expect(names, `${panel.title}: ${name}`).toContain(name);
    }
  });
});
