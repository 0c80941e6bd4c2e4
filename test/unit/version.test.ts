import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.ts';
import { runCli } from '../cli/helpers.ts';
import { toolsDir } from '../harness/tools.ts';

describe('version', () => {
  it('matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });

  it('`dualsync version` prints dualsync and the s5cmd it would run, with where that s5cmd came from', async () => {
    const result = await runCli(['version'], { env: { DUALSYNC_TOOLS: toolsDir(), DUALSYNC_S5CMD: undefined } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(`dualsync ${VERSION} (from source, Node.js ${process.version})\ns5cmd 2.3.0+nohead.1 at ${join(toolsDir(), 's5cmd')} (DUALSYNC_TOOLS)\n`);
  });

  it('`dualsync version --json`: one document with both versions', async () => {
    const result = await runCli(['version', '--json'], { env: { DUALSYNC_TOOLS: toolsDir(), DUALSYNC_S5CMD: undefined } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      dualsync: VERSION,
      node: process.version,
      singleExecutable: false,
      s5cmd: { version: '2.3.0+nohead.1', path: join(toolsDir(), 's5cmd'), origin: 'DUALSYNC_TOOLS', headPerDownload: false },
    });
  });

  it('without a usable s5cmd: still prints its own version, then the reason, and exits 1', async () => {
    const result = await runCli(['version'], { env: { DUALSYNC_S5CMD: '/nonexistent/s5cmd' } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(`dualsync ${VERSION} (from source, Node.js ${process.version})\n`);
    expect(result.stderr).toMatch(/^Error \[E_S5CMD_MISSING\]: s5cmd not found at \/nonexistent\/s5cmd \(from DUALSYNC_S5CMD\)/);
  });
});
