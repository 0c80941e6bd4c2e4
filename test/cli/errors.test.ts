import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.ts';

describe('errors on the terminal and in --json', () => {
  it('a human error line carries its stable code', async () => {
    const result = await runCli(['plan', '-c', 'fixtures/config/no-such.yaml']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split('\n')[0]).toBe('Error [E_CONFIG_MISSING]: config file fixtures/config/no-such.yaml does not exist');
    expect(result.stdout).toBe('');
  });

  it.each([
    ['plan', ['plan', '--json']],
    ['apply', ['apply', '--json', 'plan.json']],
    ['status', ['status', '--json']],
    ['doctor', ['doctor', '--json']],
    ['volumes list', ['volumes', 'list', '--json']],
  ])('%s --json writes one JSON error object to stdout on failure', async (_name, args) => {
    const result = await runCli([...args, '-c', 'fixtures/config/broken/many-problems.yaml']);
    expect(result.exitCode).toBe(1);
    const parsed = JSON.parse(result.stdout) as { error: { code: string; kind: string; message: string; details: string[]; hint?: string; retryable: boolean } };
    expect(parsed.error).toMatchObject({ code: 'E_CONFIG', kind: 'user', retryable: false });
    expect(parsed.error.message).toContain('5 problems');
    expect(parsed.error.details).toHaveLength(5);
    expect(result.stderr).toContain('Error [E_CONFIG]:');
  });

  it('a command line that does not parse gets a JSON error object too, with --json', async () => {
    const result = await runCli(['plan', '--json', '--bogus']);
    expect(result.exitCode).toBe(1);
    const parsed = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(parsed.error).toMatchObject({ code: 'E_USAGE', message: 'Unsupported option name ("--bogus").' });
    const human = await runCli(['plan', '--bogus']);
    expect(human.stdout).toContain('Unsupported option name');
    expect(() => JSON.parse(human.stdout) as unknown).toThrow();
  });
});
