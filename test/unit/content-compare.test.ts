import { describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { compareContent, contentMd5 } from '../../src/apply/content.ts';
import { testConfig } from '../builders.ts';

const MD5_A = 'a'.repeat(32);
const MD5_B = 'b'.repeat(32);
const source = { key: 'k', size: 6, etag: `${'1'.repeat(32)}-2` };
const destination = { key: 'k', size: 6, etag: `${'2'.repeat(32)}-2` };

describe('compareContent', () => {
  it('equal MD5s: the same object', async () => {
    expect(await compareContent(async () => MD5_A, source, destination)).toEqual({ same: true, md5: MD5_A });
  });

  it('different MD5s: differs, with both MD5s in the reason', async () => {
    const result = await compareContent(async (side) => (side === 'source' ? MD5_A : MD5_B), source, destination);
    expect(result).toMatchObject({ same: false, differs: true });
    expect(result.same === false && result.failure).toEqual({ code: 'content-differs', sourceMd5: MD5_A, destinationMd5: MD5_B });
  });

  it('a read that fails is neither the same nor a difference, and says why', async () => {
    const result = await compareContent(
      async (side) => {
        if (side === 'destination') throw new Error('connection reset');
        return MD5_A;
      },
      source,
      destination,
    );
    expect(result).toEqual({ same: false, differs: false, failure: { code: 'content-unreadable', cause: 'connection reset' } });
  });
});

describe('contentMd5', () => {
  const neverCalled = { send: () => Promise.reject(new Error('read an object whose ETag is its MD5')) } as unknown as S3Client;
  const hop = testConfig().source;

  it('a plain MD5 ETag is the content MD5: nothing is read', async () => {
    expect(await contentMd5(neverCalled, hop, { key: 'k', size: 1, etag: MD5_A.toUpperCase() })).toBe(MD5_A);
  });

  it('a multipart ETag is read', async () => {
    await expect(contentMd5(neverCalled, hop, source)).rejects.toThrow(/read an object whose ETag is its MD5/);
  });
});
