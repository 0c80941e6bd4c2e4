import { describe, expect, it } from 'vitest';
import { defaultOwner, runProvisionCommands } from '../../src/ops/provision-run.ts';

const command = (...argv: string[]) => ({ device: '/dev/test', argv });

describe('runProvisionCommands (with harmless commands in place of parted and mkfs)', () => {
  it('shows each command before it runs, with its output, and runs them in order', async () => {
    let shown = '';
    const result = await runProvisionCommands([command('echo', 'first'), command('sh', '-c', 'echo second')], (text) => (shown += text));
    expect(result).toEqual({ ran: 2 });
    expect(shown).toBe("$ echo first\nfirst\n$ sh -c 'echo second'\nsecond\n");
  });

  it('stops at the first failure and says which command failed', async () => {
    let shown = '';
    const result = await runProvisionCommands([command('true'), command('sh', '-c', 'echo broken >&2; exit 3'), command('echo', 'never')], (text) => (shown += text));
    expect(result.ran).toBe(1);
    expect(result.failed?.command.argv).toEqual(['sh', '-c', 'echo broken >&2; exit 3']);
    expect(result.failed?.error).toBe('exit code 3');
    expect(shown).toContain('broken');
    expect(shown).not.toContain('never');
  });

  it('reports a command that does not exist as a failure, not a crash', async () => {
    const result = await runProvisionCommands([command('dualsync-no-such-mkfs', '/dev/test1')], () => {});
    expect(result.ran).toBe(0);
    expect(result.failed?.error).toMatch(/ENOENT|not found|no such/i);
  });
});

describe('defaultOwner', () => {
  it.each([
    ['behind sudo: the operator, not root', { SUDO_UID: '1000', SUDO_GID: '1001' }, '1000:1001'],
    ['without sudo: the user running it', {}, `${process.getuid!()}:${process.getgid!()}`],
  ])('%s', (_situation, env, owner) => {
    expect(defaultOwner(env)).toBe(owner);
  });
});
