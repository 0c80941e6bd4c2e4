/**
 * A reset killed half way leaves its record (reset-unfinished.json): plan, apply and watch refuse
 * the state directory with E_RESET_UNFINISHED until a rerun of reset finishes it. A copy (`cp -a`)
 * made meanwhile carries that record too: it refuses the same way, and its own `reset` is refused
 * as a copy's, moving, removing and rewriting nothing of the original (its state directory, its
 * backup, its staged files, its claims); the original then finishes its reset.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanup, useMinioPair } from '../harness/index.ts';
import { RESET_STEPS } from '../../src/ops/reset-intent.ts';
import { runCli, siteWithResetKilledAt, type CliResult, type Site } from './site.ts';

const pair = useMinioPair();
afterAll(cleanup);

const run = promisify(execFile);
const objects = Array.from({ length: 6 }, (_, i) => ({ key: `day-${i % 2}/sensor ${i}.csv`, body: `reading ${i}\n`.repeat(10 + i) }));

/** sha256 of every file under the given folders, by path (lock files aside: a run takes and leaves them). */
async function digestsUnder(folders: string[]): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const folder of folders) {
    for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name === 'lock' || entry.name.startsWith('lock.')) continue;
      const path = join(entry.parentPath, entry.name);
      found[path] = createHash('sha256').update(await readFile(path)).digest('hex');
    }
  }
  return found;
}

/** Runs a command with a config that is A's with `stateDir` instead of A's state directory. */
async function configWith(a: Site, stateDir: string): Promise<(...args: string[]) => Promise<CliResult>> {
  const text = (await readFile(a.configPath, 'utf8')).replace(`stateDir: ${a.stateDir}`, `stateDir: ${stateDir}`);
  const path = join(a.dir, 'copy.yaml');
  await writeFile(path, text);
  return (...args) => runCli([...args, '-c', path], a.env);
}

describe('a state directory copied while a reset was half done', () => {
  it.each(RESET_STEPS.map((step) => [step]))('copied after %s: the copy refuses plan/apply/watch, and its reset touches nothing of the original', async (step) => {
    const site = await siteWithResetKilledAt(pair, objects, step);

    // watch, too, names the unfinished reset rather than a lost ledger.
    const watched = await site.cli('watch', '--once');
    expect(watched.exitCode, watched.stdout + watched.stderr).not.toBe(0);
    expect(watched.stderr).toMatch(/^Error \[E_RESET_UNFINISHED\]: .*reset-unfinished\.json/m);

    const copyDir = join(site.dir, 'state-copy');
    await run('cp', ['-a', site.stateDir, copyDir]);
    expect(await readdir(copyDir)).toContain('reset-unfinished.json');
    const copy = await configWith(site, copyDir);
    const original = await digestsUnder([site.stateDir, ...site.volumes]);

    for (const command of [['plan'], ['apply', '--auto-approve'], ['watch', '--once']]) {
      const refused = await copy(...command);
      expect(refused.exitCode, `${command[0]}: ${refused.stdout}${refused.stderr}`).not.toBe(0);
      expect(refused.stderr, command[0]).toMatch(/^Error \[E_RESET_UNFINISHED\]: .*reset-unfinished\.json/m);
      expect(refused.stderr).not.toContain('Internal error');
    }
    expect(await digestsUnder([site.stateDir, ...site.volumes])).toEqual(original);

    // The copy holds the id with which the original claimed the volumes (a claim is left at every
    // step): its reset is refused as a copy's (invariant 14), so it neither follows the record's
    // backup name nor removes the original's staged files.
    const reset = await copy('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(1);
    expect(reset.stderr).toMatch(/^Error \[E_STATE_DIR_COPY\]: /m);
    expect(reset.stderr).toContain(`${copyDir} is a copy of ${site.stateDir}`);
    expect(await digestsUnder([site.stateDir, ...site.volumes])).toEqual(original);
    expect(await readdir(copyDir)).toContain('reset-unfinished.json');

    // The original still finishes its own reset from its record.
    const rerun = await site.cli('reset', '--yes');
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
    const verified = await site.cli('report', '--verify');
    expect(verified.exitCode, verified.stdout + verified.stderr).toBe(0);
  });
});
