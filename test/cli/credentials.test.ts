import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers.ts';

/**
 * An operator checks on a running watch from another shell, where the secrets are not set.
 * Commands that contact no endpoint must run; a command that contacts a hop needs that hop's.
 */
let dir: string;
let config: string;
const UNSET = { EDGE_KEY_ID: undefined, EDGE_SECRET: undefined, ARCHIVE_KEY_ID: undefined, ARCHIVE_SECRET: undefined };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-cli-credentials-'));
  await mkdir(join(dir, 'volume-1'));
  config = join(dir, 'sync.yaml');
  await writeFile(
    config,
    [
      'version: 1',
      'source:',
      '  bucket: field-data',
      '  region: us-east-1',
      '  endpoint: "http://127.0.0.1:9"',
      '  credentials: { accessKeyId: "${EDGE_KEY_ID}", secretAccessKey: "${EDGE_SECRET}" }',
      'destination:',
      '  bucket: archive',
      '  region: us-east-1',
      '  endpoint: "http://127.0.0.1:9"',
      '  credentials: { accessKeyId: "${ARCHIVE_KEY_ID}", secretAccessKey: "${ARCHIVE_SECRET}" }',
      'staging: { volumes: ["./volume-*"] }',
      'stateDir: ./state',
      '',
    ].join('\n'),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('credentials are resolved only where a hop is contacted', () => {
  it.each([
    ['status', ['status']],
    ['status --json', ['status', '--json']],
    ['volumes list', ['volumes', 'list']],
    ['reset --yes', ['reset', '--yes']],
  ])('%s runs without any secret in the environment', async (_name, args) => {
    const result = await runCli([...args, '-c', config], { env: UNSET });
    expect(result.stderr).not.toContain('is not set');
    expect(result.exitCode).toBe(0);
  });

  it('plan names the unset variables of the hops it contacts, with file:line', async () => {
    const result = await runCli(['plan', '-c', config], { env: { ...UNSET, EDGE_KEY_ID: 'id', EDGE_SECRET: 'secret' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("the destination hop's credentials are not set: ARCHIVE_KEY_ID, ARCHIVE_SECRET");
    expect(result.stderr).toContain(`${config}:11:31  destination.credentials.accessKeyId: environment variable ARCHIVE_KEY_ID is not set`);
    expect(result.stderr).not.toContain('EDGE_');
  });

  it('doctor fails only the hop whose variables are unset', async () => {
    const result = await runCli(['doctor', '--json', '-c', config], { env: { ...UNSET, EDGE_KEY_ID: 'id', EDGE_SECRET: 'secret' } });
    const report = JSON.parse(result.stdout) as { checks: { scope: string; check: string; status: string; detail: string }[] };
    const lists = report.checks.filter((c) => c.check === 'list');
    expect(lists.find((c) => c.scope === 'destination')?.detail).toContain("the destination hop's credentials are not set");
    expect(lists.find((c) => c.scope === 'source')?.detail ?? '').not.toContain('not set');
  });

  it('validate still reports every unset variable: it answers "will plan run here?"', async () => {
    const result = await runCli(['validate', '-c', config], { env: UNSET });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('4 problems');
    expect(result.stderr).toContain('environment variable EDGE_SECRET is not set');
  });
});
