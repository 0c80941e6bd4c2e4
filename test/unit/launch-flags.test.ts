import { describe, expect, it } from 'vitest';
import { commandOf, TUNED_VARIABLE, watchRelaunch, type LaunchSituation } from '../../src/cli/launch-flags.ts';

const NODE = '/usr/bin/node';
const SCRIPT = '/opt/dualsync/bin/dualsync';
const situation = (over: Partial<LaunchSituation>): LaunchSituation => ({ args: ['watch'], execPath: NODE, execArgv: [], env: { PATH: '/bin' }, script: SCRIPT, ...over });

describe('commandOf', () => {
  it.each([
    [['watch'], 'watch'],
    [['-c', 'watch.yaml', 'plan'], 'plan'],
    [['--config', 'x', '--shard', '1/2', 'watch', '--once'], 'watch'],
    [['--version'], undefined],
  ])('%j names %s', (args, command) => expect(commandOf(args)).toBe(command));
});

describe('watchRelaunch', () => {
  it('another command, or the re-executed watch: nothing to do', () => {
    expect(watchRelaunch(situation({ args: ['plan'] }))).toBeUndefined();
    expect(watchRelaunch(situation({ env: { [TUNED_VARIABLE]: '1' } }))).toBeUndefined();
  });

  it('from bin/dualsync: the flag on the command line before the script, the variable set, marked tuned', () => {
    const relaunch = watchRelaunch(situation({ args: ['watch', '-c', 'a.yaml'], execArgv: ['--no-warnings'] }))!;
    expect(relaunch.path).toBe(NODE);
    expect(relaunch.argv).toEqual([NODE, '--max-semi-space-size=16', '--no-warnings', SCRIPT, 'watch', '-c', 'a.yaml']);
    expect(relaunch.env).toEqual({ PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072', [TUNED_VARIABLE]: '1' });
  });

  it('in the single executable: the flag in NODE_OPTIONS after the operator\'s own, nothing added to the arguments', () => {
    const relaunch = watchRelaunch(situation({ execPath: '/opt/d/dualsync', script: undefined, env: { NODE_OPTIONS: '--trace-warnings' } }))!;
    expect(relaunch.argv).toEqual(['/opt/d/dualsync', 'watch']);
    expect(relaunch.env.NODE_OPTIONS).toBe('--trace-warnings --max-semi-space-size=16');
    expect(watchRelaunch(situation({ script: undefined }))!.env.NODE_OPTIONS).toBe('--max-semi-space-size=16');
  });

  it("the operator's own settings win: a semi-space size of theirs, a MALLOC_ variable, GLIBC_TUNABLES", () => {
    const sea = watchRelaunch(situation({ script: undefined, env: { NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_MMAP_THRESHOLD_: '65536' } }))!;
    expect(sea.env.NODE_OPTIONS).toBe('--max-semi-space-size=4');
    expect(sea.env.MALLOC_MMAP_THRESHOLD_).toBe('65536');
    const checkout = watchRelaunch(situation({ execArgv: ['--max-semi-space-size=8'], env: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=4096' } }))!;
    expect(checkout.argv).toEqual([NODE, '--max-semi-space-size=8', SCRIPT, 'watch']);
    expect(checkout.env.MALLOC_MMAP_THRESHOLD_).toBeUndefined();
  });
});
