import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mountOf, stateDiskFullOr } from '../../src/apply/state-disk.ts';
import { isDualsyncError, opError } from '../../src/errors.ts';

function enospc(path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, write${path ? ` '${path}'` : ''}`), { code: 'ENOSPC', path });
}

describe('a full state disk is named once, clearly', () => {
  const stateDir = join(tmpdir(), 'dualsync-state');

  it('a ledger write that failed for room becomes the one clear error, with the mount', () => {
    const error = stateDiskFullOr(stateDir, opError('E_LEDGER_WRITE', 'cannot write ledger.journal.jsonl: ENOSPC', { cause: enospc() }));
    expect(isDualsyncError(error) && error.code).toBe('E_STATE_DISK_FULL');
    const mount = mountOf(stateDir)!;
    expect((error as Error).message.startsWith(`the state directory's disk is full: ${stateDir} on ${mount.mountPoint} (${mount.fsType}`)).toBe(true);
    expect((error as Error).message).toMatch(/\); free space there$/);
    expect(isDualsyncError(error) && error.retryable).toBe(true);
  });

  it('a raw ENOSPC on a file in the state directory (the last-run record) becomes it too', () => {
    const error = stateDiskFullOr(stateDir, enospc(join(stateDir, 'last-run.json.tmp-1')));
    expect(isDualsyncError(error) && error.code).toBe('E_STATE_DISK_FULL');
  });

  it('a full disk elsewhere, or another ledger error, is left as it is', () => {
    const elsewhere = enospc('/srv/volume-01/.dualsync-tmp/a.bin');
    expect(stateDiskFullOr(stateDir, elsewhere)).toBe(elsewhere);
    const denied = opError('E_LEDGER_WRITE', 'cannot write: EACCES', { cause: Object.assign(new Error('EACCES'), { code: 'EACCES' }) });
    expect(stateDiskFullOr(stateDir, denied)).toBe(denied);
  });

  it('the mount of a path is the longest mount point above it', () => {
    expect(mountOf('/')?.mountPoint).toBe('/');
    expect(mountOf('/proc/self')?.mountPoint).toBe('/proc');
  });
});
