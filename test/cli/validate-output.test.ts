import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-cli-validate-'));
  await mkdir(join(dir, 'volume-1'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(sourceLines: string[], extra: string[] = []): string {
  return [
    'version: 1',
    'source:',
    '  bucket: field-data',
    '  region: us-east-1',
    ...sourceLines.map((line) => `  ${line}`),
    'destination: { bucket: archive, region: us-east-1 }',
    'staging: { volumes: ["./volume-*"] }',
    ...extra,
    '',
  ].join('\n');
}

describe('validate output', () => {
  it('the count names every line it lists: problems and warnings', async () => {
    const path = join(dir, 'sync.yaml');
    // One error (workers: 0) and one warning (tls.verify: false).
    await writeFile(path, config(['endpoint: "https://192.0.2.10:8443"', 'tls: { verify: false }'], ['transfer: { workers: 0 }']));
    const result = await runCli(['validate', '-c', path]);
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`Error [E_CONFIG]: ${path}: 1 problem, 1 warning`);
    expect(lines.filter((line) => line.startsWith(`  ${path}:`))).toHaveLength(2);
  });

  it('tls with a missing caBundle on an http:// endpoint is one warning, not an error', async () => {
    const path = join(dir, 'sync.yaml');
    await writeFile(path, config(['endpoint: "http://192.0.2.10:8080"', 'tls: { caBundle: ./missing.pem }']));
    const result = await runCli(['validate', '-c', path]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `${path}:6:8  warning: source.tls: tls settings have no effect on an http:// endpoint (they are ignored, tls.caBundle included; use https:// to have them checked)`,
    ]);
  });
});
