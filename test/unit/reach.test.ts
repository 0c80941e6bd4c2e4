import { describe, expect, it } from 'vitest';
import { bothUnreachable, probeThenOpen, streamOrUnreachable } from '../../src/inventory/reach.ts';
import type { ListingStream, ObjectEntry } from '../../src/model/objects.ts';
import { opError, userError } from '../../src/errors.ts';

describe('both hops down', () => {
  it('one retryable error naming both causes', () => {
    const error = bothUnreachable(opError('E_S3_FAILED', 'source refused', { retryable: true }), opError('E_S3_FAILED', 'destination timed out', { retryable: true }));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('both hops are unreachable: source: source refused; destination: destination timed out');
  });
});

describe('streamOrUnreachable: a hop that is down is a state, never an empty listing', () => {
  const entry: ObjectEntry = { key: 'a', size: 1, etag: 'x' };
  function stream(): ListingStream {
    async function* one(): AsyncGenerator<ObjectEntry[]> {
      yield [entry];
    }
    return { pages: one(), complete: true, warnings: [], close: async () => undefined };
  }
  async function read(listing: ListingStream): Promise<ObjectEntry[]> {
    const out: ObjectEntry[] = [];
    for await (const page of listing.pages) out.push(...page);
    return out;
  }

  it('a stream that opens is passed through as it is', async () => {
    const opened = stream();
    expect(await streamOrUnreachable(Promise.resolve(opened))).toEqual({ listing: opened });
  });

  it('a retryable failure at open: an empty, incomplete, closed stream naming the cause', async () => {
    const refused = opError('E_S3_FAILED', 'listing s3://archive/site-7/ (http://127.0.0.1:9001) failed: connect ECONNREFUSED', { retryable: true });
    const hop = await streamOrUnreachable(Promise.reject(refused));
    expect(hop.error).toBe(refused);
    expect(hop.listing).toMatchObject({ complete: false, warnings: [], unreachable: refused.message });
    expect(await read(hop.listing)).toEqual([]);
    await hop.listing.close();
    await hop.listing.close();
  });

  it.each([
    ['wrong keys', opError('E_S3_ACCESS', 'access denied', { retryable: false })],
    ['a stop asked by the operator', opError('E_ABORTED', 'listing was stopped', { retryable: true })],
    ['a config mistake', userError('E_CA_BUNDLE', 'cannot read the CA bundle')],
    ['an unexpected error', new TypeError('boom')],
  ])('%s still stops the run', async (_name, error) => {
    await expect(streamOrUnreachable(Promise.reject(error))).rejects.toBe(error);
  });

  it('a hop still down after its probe is not opened at all', async () => {
    let opened = false;
    const silent = opError('E_HOP_UNREACHABLE', 's3://archive/ (http://10.0.0.9) did not answer within 10 s', { retryable: true });
    const hop = await probeThenOpen(async () => silent, async () => {
      opened = true;
      return stream();
    });
    expect(opened).toBe(false);
    expect(hop.listing.unreachable).toBe(silent.message);
    expect(hop.error).toBe(silent);
    expect(await read(hop.listing)).toEqual([]);
  });

  it('a hop that answers its probe is opened and read', async () => {
    const hop = await probeThenOpen(async () => undefined, async () => stream());
    expect(hop.error).toBeUndefined();
    expect(await read(hop.listing)).toEqual([entry]);
  });
});
