/**
 * loadConfigForChecks (doctor, volumes list): a config whose file is right but whose disk is not
 * loads, and the disk's problems come back as diagnostics (field, position, message), not as
 * rendered lines for the caller to pick apart.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigForChecks } from '../../src/ops/config.ts';
import { formatDiagnostic, loadConfig } from '../../src/config/load.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-checks-'));
  await mkdir(join(dir, 'vol-a'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configText(lines: { volumes: string; sourceExtra?: string; extra?: string }): string {
  return `version: 1
source:
  bucket: field-data
  region: eu-west-1
  endpoint: https://192.0.2.10:8443
${lines.sourceExtra ?? ''}destination:
  bucket: archive
  region: us-east-1
staging:
  volumes: ${lines.volumes}
${lines.extra ?? ''}`;
}

describe('loadConfigForChecks', () => {
  it('problems only the disk shows are returned as diagnostics, in file order, as loadConfig lists them', async () => {
    const file = join(dir, 'sync.yaml');
    await writeFile(file, configText({ volumes: '[./vol-a, ./missing]', sourceExtra: '  tls: { caBundle: ./no-such.pem }\n' }));
    const checked = await loadConfigForChecks(file, {});
    expect(checked.config.file).toBe(file);
    expect(checked.diskProblems.map((d) => [d.severity, d.path, d.line])).toEqual([
      ['error', 'source.tls.caBundle', 6],
      ['error', 'staging.volumes[1]', 11],
    ]);
    expect(checked.diskProblems[0]).toMatchObject({ file, message: 'CA bundle ./no-such.pem is not a readable file' });
    // The same lines loadConfig refuses the file with.
    const refusal: unknown = await loadConfig(file, {}).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: 'E_CONFIG', details: checked.diskProblems.map(formatDiagnostic) });
  });

  it('a file with its own mistakes throws as loadConfig does, listing every problem', async () => {
    const file = join(dir, 'sync.yaml');
    await writeFile(file, configText({ volumes: '[./missing]', extra: 'transfer:\n  workers: many\n' }));
    const error: unknown = await loadConfigForChecks(file, {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_CONFIG', message: `${file}: 2 problems` });
    expect((error as { details: string[] }).details.map((line) => line.split('  ')[1]?.split(':')[0])).toEqual(['staging.volumes[0]', 'transfer.workers']);
  });

  it('a good config: no problems, and the warnings it has', async () => {
    const file = join(dir, 'sync.yaml');
    await writeFile(file, configText({ volumes: '[./vol-a]', sourceExtra: '  tls: { verify: false }\n' }));
    const checked = await loadConfigForChecks(file, {});
    expect(checked.diskProblems).toEqual([]);
    expect(checked.warnings.map((w) => w.path)).toEqual(['source.tls.verify']);
    expect(checked.text).toContain('bucket: field-data');
  });
});
