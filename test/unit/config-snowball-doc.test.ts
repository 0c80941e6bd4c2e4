import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.ts';
import { byHand } from '../../src/manifest/s5cmd.ts';
import { connectionCheck } from '../../src/ops/doctor.ts';
import { hopSettings } from '../../src/plan/hops.ts';

const page = readFileSync(new URL('../../docs/snowball.md', import.meta.url), 'utf8');
/** The page's "A complete config", read as written (its caBundle resolves to /etc/dualsync/snowball.pem, as in the page's examples). */
const complete = /## A complete config\s+```yaml\n([\s\S]*?)```/.exec(page)?.[1] ?? '';
const env = { EDGE_ACCESS_KEY_ID: 'AKIDEDGE', EDGE_SECRET_ACCESS_KEY: 'edge-secret' };

describe('docs/snowball.md: its own complete config', () => {
  const { config, diagnostics } = parseConfig(complete, 'sync.yaml', env, '/etc/dualsync');

  it('validates without a warning', () => {
    expect(complete).toContain('region: snow');
    expect(diagnostics).toEqual([]);
    expect(config).toBeDefined();
  });

  it('passes doctor\'s connection check and plans without a "capped" warning on both hops', () => {
    for (const side of ['source', 'destination'] as const) {
      expect(connectionCheck(side, config![side], config!.transfer)).toMatchObject({ status: 'pass' });
      expect(hopSettings(config!.transfer.workers, config!.transfer.concurrency, config![side].maxConnections, side).warning).toBeUndefined();
    }
  });

  it('the "By hand" example is the line the download manifest of that config starts with', () => {
    const documented = /^# By hand: .*$/m.exec(page)?.[0];
    const { settings } = hopSettings(config!.transfer.workers, config!.transfer.concurrency, config!.source.maxConnections, 'source');
    expect(byHand('source', config!.source, config!.destination, settings)[0]).toBe(documented);
  });

  it('says what the next apply does with files a by-hand run left in .dualsync-tmp/', () => {
    expect(page).toMatch(/\.dualsync-tmp\/[\s\S]{0,400}(delete[sd]?|remove[sd]?)[\s\S]{0,200}download(ed|s)? (them )?again/);
  });
});
