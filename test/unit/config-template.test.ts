import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.ts';
import { STARTER_VARIABLES, starterConfig } from '../../src/config/template.ts';
import { connectionCheck } from '../../src/ops/doctor.ts';

describe('starterConfig', () => {
  const env = Object.fromEntries(STARTER_VARIABLES.map((name) => [name, `value-of-${name}`]));

  it('validates without errors or warnings once its variables are set', () => {
    const { config, diagnostics } = parseConfig(starterConfig('./schemas/sync.schema.json'), 'sync.yaml', env, '/srv/site7');
    expect(diagnostics).toEqual([]);
    expect(config?.source).toMatchObject({ region: 'snow', listApi: 'v1', maxConnections: 500, addressing: 'path' });
    expect(config?.source.credentials).toEqual({
      kind: 'static',
      accessKeyId: 'value-of-DUALSYNC_SOURCE_ACCESS_KEY_ID',
      secretAccessKey: 'value-of-DUALSYNC_SOURCE_SECRET_ACCESS_KEY',
      inline: false,
    });
    expect(config?.source.tls.caBundle).toBe('/srv/site7/snowball.pem');
  });

  it('passes doctor\'s connection budget on both hops as written (workers x concurrency within maxConnections)', () => {
    const { config } = parseConfig(starterConfig('x'), 'sync.yaml', env, '/srv/site7');
    expect(config).toBeDefined();
    for (const side of ['source', 'destination'] as const) {
      expect(connectionCheck(side, config![side], config!.transfer)).toMatchObject({ status: 'pass' });
    }
  });

  it('sync.example.yaml passes the same connection budget', () => {
    const text = readFileSync(new URL('../../sync.example.yaml', import.meta.url), 'utf8');
    const { config } = parseConfig(text, 'sync.example.yaml', {}, '/srv/site7', { deferCredentials: true });
    expect(config).toBeDefined();
    for (const side of ['source', 'destination'] as const) {
      expect(connectionCheck(side, config![side], config!.transfer)).toMatchObject({ status: 'pass' });
    }
  });

  it('stages on the mount points volumes provision makes', () => {
    const { config } = parseConfig(starterConfig('x'), 'sync.yaml', env, '/srv/site7');
    expect(config?.staging.volumes).toEqual(['/tmp/volume-*']);
  });

  it('names every variable it refers to, so init can tell the operator', () => {
    const errors = parseConfig(starterConfig('x'), 'sync.yaml', {}, '/srv').diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((e) => e.message)).toEqual(STARTER_VARIABLES.map((name) => `environment variable ${name} is not set`));
  });

  it('points editors at the schema', () => {
    expect(starterConfig('../schemas/sync.schema.json').split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/sync.schema.json');
  });
});
