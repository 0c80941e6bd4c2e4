import { describe, expect, it } from 'vitest';
import { bothUnreachable, listingOrUnreachable, probeThenList } from '../../src/inventory/reach.ts';
import { opError, userError } from '../../src/errors.ts';

describe('listingOrUnreachable: a hop that is down is a state, never an empty listing', () => {
  it('a listing that arrives is passed through', async () => {
    const listing = { entries: [{ key: 'a', size: 1, etag: 'x' }], complete: true, warnings: [] };
    expect(await listingOrUnreachable(Promise.resolve(listing))).toEqual({ listing });
  });

  it('a retryable failure (connection refused, timeout, 5xx) makes the hop unreachable, with the cause', async () => {
    const refused = opError('E_S3_FAILED', 'listing s3://archive/site-7/ (http://127.0.0.1:9001) failed: connect ECONNREFUSED', { retryable: true });
    const hop = await listingOrUnreachable(Promise.reject(refused));
    expect(hop.error).toBe(refused);
    expect(hop.listing).toEqual({ entries: [], complete: false, warnings: [], unreachable: refused.message });
  });

  it.each([
    ['wrong keys', opError('E_S3_ACCESS', 'access denied', { retryable: false })],
    ['a stop asked by the operator', opError('E_ABORTED', 'listing was stopped', { retryable: true })],
    ['a config mistake', userError('E_CA_BUNDLE', 'cannot read the CA bundle')],
    ['an unexpected error', new TypeError('boom')],
  ])('%s still stops the run', async (_name, error) => {
    await expect(listingOrUnreachable(Promise.reject(error))).rejects.toBe(error);
  });

  it('both hops down: one retryable error naming both causes', () => {
    const error = bothUnreachable(opError('E_S3_FAILED', 'source refused', { retryable: true }), opError('E_S3_FAILED', 'destination timed out', { retryable: true }));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('both hops are unreachable: source: source refused; destination: destination timed out');
  });

  it('a hop still down after its probe is not listed at all', async () => {
    let listed = false;
    const silent = opError('E_HOP_UNREACHABLE', 's3://archive/ (http://10.0.0.9) did not answer within 10 s', { retryable: true });
    const hop = await probeThenList(async () => silent, async () => {
      listed = true;
      return { entries: [], complete: true, warnings: [] };
    });
    expect(listed).toBe(false);
    expect(hop.listing.unreachable).toBe(silent.message);
  });

  it('a hop that answers its probe is listed', async () => {
    const listing = { entries: [{ key: 'a', size: 1, etag: 'x' }], complete: true, warnings: [] };
    expect(await probeThenList(async () => undefined, async () => listing)).toEqual({ listing });
  });
});
