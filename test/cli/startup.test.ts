import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * What a command loads before it runs is start-up CPU on every invocation (watch's cron-like
 * callers, scripts that ask for `--version`). Each command loads the engine, the config checks and
 * the s5cmd runner when it runs, not when the CLI starts: `--version` and `--help` load none.
 * Counted with a module hook, not timed, so it holds on a loaded machine.
 */
const LAUNCHER = resolve('bin/dualsync');
const PROJECT_NODE = resolve('node_modules/node/bin/node');
// Prints, on exit, every file the ES module loader loaded (node_modules/... or src/...).
const RECORD_LOADS = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, next) { if (url.startsWith('file:')) loaded.push(url); return next(url, context); } });
process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(loaded) + '\\n'));
`)}`;

async function modulesLoadedBy(args: string[]): Promise<string[]> {
  const { stderr } = await promisify(execFile)(PROJECT_NODE, ['--import', RECORD_LOADS, LAUNCHER, ...args]);
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
  expect(line, stderr).toBeDefined();
  return (JSON.parse(line!.slice('LOADED '.length)) as string[]).map((url) => url.replace(/^.*?\/(node_modules|src|bin)\//, '$1/'));
}

// What only running a command needs: the engine, the config's parser and schema check, the AWS
// SDK, execa (the s5cmd runner), the tables of the views.
const RUN_TIME_ONLY = [/^src\/engine\.ts$/, /^src\/config\/(load|parse)\.ts$/, /^src\/apply\/runner\.ts$/, /^node_modules\/(execa|ajv|yaml|@aws-sdk|cli-table3)\//];

describe('start-up', () => {
  for (const args of [['--version'], ['--help']]) {
    it(`\`dualsync ${args.join(' ')}\` loads no module that only running a command needs`, async () => {
      const loaded = await modulesLoadedBy(args);
      expect(loaded).toContain('src/cli/main.ts');
      expect(loaded.filter((path) => RUN_TIME_ONLY.some((pattern) => pattern.test(path)))).toEqual([]);
    });
  }

  it('a command still loads what it runs', async () => {
    const loaded = await modulesLoadedBy(['validate', '--help']);
    expect(loaded).toContain('src/cli/commands/validate.ts');
  });
});
