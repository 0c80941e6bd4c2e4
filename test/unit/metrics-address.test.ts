import { describe, expect, it } from 'vitest';
import { parseMetricsAddress } from '../../src/watch/metrics.ts';

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
