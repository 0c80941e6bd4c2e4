import { describe, expect, it } from 'vitest';
import { failureCode } from '../../src/model/failure-code.ts';
import { parseMetricsAddress } from '../../src/watch/metrics.ts';
import type { Failure } from '../../src/model/index.ts';

describe('failureCode: one short stable label per failure, for metrics and the JSON log', () => {
  const cases: [string, Failure, string][] = [
    ['a code the failure carries is kept', { key: 'k', hop: 'upload', error: 'anything', code: 'E_SOMETHING' } as Failure, 'E_SOMETHING'],
    ['accepted but not listed', { key: 'k', hop: 'upload', error: 'the destination accepted the upload but does not list it (listed 4 times over 3 s)' }, 'not_listed'],
    ['s5cmd ended early', { key: 'k', hop: 'download', error: 's5cmd exited with code 1 without finishing this object' }, 's5cmd_exited'],
    ['a stalled hop', { key: 'k', hop: 'download', error: 'no progress for 5m on the download hop: s5cmd was stopped; the next run tries again' }, 'stalled'],
    ['not started after a stall', { key: 'k', hop: 'download', error: 'not started: the hop was stopped (no progress for 5m); the next run does it' }, 'not_started'],
    ['size differs', { key: 'k', hop: 'download', error: "size 3 differs from the source's 4" }, 'size_mismatch'],
    ['destination size differs', { key: 'k', hop: 'upload', error: 'destination size 3 differs from 4' }, 'size_mismatch'],
    ['md5 differs', { key: 'k', hop: 'download', error: 'MD5 abc differs from the source ETag def' }, 'etag_mismatch'],
    ['s5cmd access denied', { key: 'k', hop: 'download', error: 'cp s3://b/k: AccessDenied: Access Denied status code: 403' }, 'access_denied'],
    ['any purge', { key: 'k', hop: 'purge', error: 'EACCES: permission denied' }, 'purge_failed'],
    ['a sentence not in the table', { key: 'k', hop: 'upload', error: 'something new' }, 'other'],
  ];
  for (const [situation, failure, code] of cases) it(situation, () => expect(failureCode(failure)).toBe(code));
});

describe('parseMetricsAddress', () => {
  it('takes HOST:PORT, [IPv6]:PORT, :PORT and PORT, on the loopback by default', () => {
    expect(parseMetricsAddress('127.0.0.1:9464', false)).toMatchObject({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress('[::1]:9464', false)).toMatchObject({ host: '::1', port: 9464 });
    expect(parseMetricsAddress(':9464', false)).toMatchObject({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress('9464', false)).toMatchObject({ host: '127.0.0.1', port: 9464 });
  });
  it('refuses another address unless allowed, host names, and bad ports', () => {
    expect(() => parseMetricsAddress('10.0.0.5:9464', false)).toThrow(/not a loopback address/);
    expect(parseMetricsAddress('10.0.0.5:9464', true)).toMatchObject({ host: '10.0.0.5' });
    expect(() => parseMetricsAddress('metrics.local:9464', true)).toThrow(/not an IP address/);
    expect(() => parseMetricsAddress('127.0.0.1:70000', false)).toThrow(/not between 0 and 65535/);
    expect(() => parseMetricsAddress('127.0.0.1', false)).toThrow(/not HOST:PORT/);
  });
});
