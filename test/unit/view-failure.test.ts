/** The words of failures: one function, the sentences operators have read so far. */
import { describe, expect, it } from 'vitest';
import type { FailureFacts } from '../../src/model/failure.ts';
import { failureText, recordedFailureText } from '../../src/view/failure.ts';

describe('failureText', () => {
  it.each<[FailureFacts, string]>([
    [{ code: 'size-mismatch', copy: 'local', actual: 3, expected: 10 }, "size 3 differs from the source's 10"],
    [{ code: 'size-mismatch', copy: 'destination', actual: 3, expected: 10 }, 'destination size 3 differs from 10'],
    [{ code: 'etag-mismatch', copy: 'local', actual: 'aa', expected: 'bb' }, 'MD5 aa differs from the source ETag bb'],
    [{ code: 'etag-mismatch', copy: 'destination', actual: 'aa', expected: 'bb-2' }, "destination ETag aa differs from the staged copy's bb-2"],
    [{ code: 'not-listed-after-put' }, 'the destination accepted the upload but does not list it'],
    [{ code: 'staged-copy-changed', actual: 'aa', expected: 'bb' }, 'the staged copy changed since it was verified (MD5 aa, expected bb)'],
    [{ code: 's5cmd-error', cause: 'AccessDenied: no read' }, 'AccessDenied: no read'],
    [{ code: 's5cmd-exited', exitCode: 1 }, 's5cmd exited with code 1 without finishing this object'],
    [{ code: 's5cmd-exited' }, 's5cmd exited with code unknown without finishing this object'],
    [{ code: 's5cmd-killed', signal: 'SIGKILL' }, 's5cmd was stopped (SIGKILL)'],
    [{ code: 's5cmd-output', lines: ['panic: x', 'goroutine 1'] }, 's5cmd: panic: x | goroutine 1'],
    [{ code: 'stalled', cause: 'no progress for 2s on the upload hop' }, 'no progress for 2s on the upload hop: s5cmd was stopped; the next run tries again'],
    [{ code: 'not-started', cause: 'no progress for 2s on the download hop' }, 'not started: the hop was stopped (no progress for 2s on the download hop); the next run does it'],
    [{ code: 'not-started' }, 'not started'],
    [{ code: 'readback-failed', cause: 'timeout' }, 'could not read the destination back: timeout'],
    [{ code: 'verify-failed', cause: 'EIO' }, 'verification failed: EIO'],
    [{ code: 'move-failed', cause: 'EXDEV' }, 'could not move the verified file into place: EXDEV'],
    [{ code: 'purge-unconfirmed' }, 'the destination no longer holds this version (or could not be read); the staged copy is kept'],
    [{ code: 'replaced-not-removed', volume: '/v2', cause: 'EACCES' }, 'could not remove the copy it replaced on /v2: EACCES'],
    [{ code: 'content-differs', sourceMd5: 'aa', destinationMd5: 'bb' }, "content compared: the destination's object (MD5 bb) is not the source's (MD5 aa); the next plan transfers it"],
    [{ code: 'content-unreadable', cause: 'reset' }, 'content comparison could not be done: reset'],
    [{ code: 'local-not-proven', volume: '/v1', multipartEtag: 'aa-2' }, "the local copy on /v1 is not proven to be the source's current version (it matches the source's multipart ETag aa-2 for no usual part size); the next plan downloads it again"],
    [{ code: 'local-not-proven', volume: '/v1', check: { code: 'etag-mismatch', copy: 'local', actual: 'aa', expected: 'bb' } }, "the local copy on /v1 is not proven to be the source's current version (MD5 aa differs from the source ETag bb); the next plan downloads it again"],
    [{ code: 'local-unreadable', cause: 'EIO' }, "could not read the local copy to prove it is the source's version: EIO"],
    [{ code: 'stopped' }, 'stopped by the operator'],
    [{ code: 'legacy', cause: 'anything at all' }, 'anything at all'],
  ])('%j', (failure, text) => {
    expect(failureText(failure)).toBe(text);
  });

  it('a recorded failure is prefixed with its hop, as status showed it', () => {
    expect(recordedFailureText({ code: 's5cmd-error', hop: 'upload', cause: 'KeyTooLongError' })).toBe('upload: KeyTooLongError');
    expect(recordedFailureText({ code: 'legacy', cause: 'no hop known' })).toBe('no hop known');
  });
});
