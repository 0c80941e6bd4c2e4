/** Bucket helpers for integration tests: one fresh bucket per test, objects in, listings and MD5s out. */
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import type { MinioServer } from './minio.ts';

/** How many requests the helpers keep in flight at once. */
const PARALLEL = 16;

export interface ListedObject {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
}

/** Creates a bucket with a fresh name (t-<random>, valid for S3) unless one is given; returns its name. */
export async function createBucket(server: MinioServer, name = `t-${randomBytes(8).toString('hex')}`): Promise<string> {
  await server.client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

async function inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}

/** Puts each entry with a single PutObject (ETag = MD5 of the body). */
export async function putObjects(server: MinioServer, bucket: string, entries: { key: string; body: Buffer | string }[]): Promise<void> {
  await inParallel(entries, async ({ key, body }) => {
    await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === 'string' ? Buffer.from(body) : body }));
  });
}

/**
 * Uploads `body` in parts of `partSize` bytes (the last may be shorter) so the object gets a real
 * multipart ETag ("<md5 of part md5s>-<parts>"); returns that ETag without quotes.
 */
export async function putMultipart(server: MinioServer, bucket: string, key: string, body: Buffer, partSize: number): Promise<string> {
  const { UploadId } = await server.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: { ETag: string; PartNumber: number }[] = [];
  for (let offset = 0, number = 1; offset < body.length; offset += partSize, number++) {
    const { ETag } = await server.client.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: number, Body: body.subarray(offset, offset + partSize) }),
    );
    parts.push({ ETag: ETag ?? '', PartNumber: number });
  }
  const { ETag } = await server.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  return (ETag ?? '').replaceAll('"', '');
}

/** Every object under `prefix` (full keys), paging through ListObjectsV2. */
export async function listAll(server: MinioServer, bucket: string, prefix = ''): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
    for (const object of page.Contents ?? []) {
      objects.push({ key: object.Key ?? '', size: object.Size ?? 0, etag: (object.ETag ?? '').replaceAll('"', '') });
    }
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken !== undefined);
  return objects;
}

/** MD5 (hex) of an object's content, computed from the bytes read back. */
export async function getObjectMd5(server: MinioServer, bucket: string, key: string): Promise<string> {
  const response = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('md5');
  for await (const chunk of response.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

/** MD5 of every object under `prefix`, keyed by the key relative to `prefix`. */
export async function md5OfBucket(server: MinioServer, bucket: string, prefix = ''): Promise<Map<string, string>> {
  const objects = await listAll(server, bucket, prefix);
  const result = new Map<string, string>();
  await inParallel(objects, async ({ key }) => {
    result.set(key.slice(prefix.length), await getObjectMd5(server, bucket, key));
  });
  return result;
}

/** MD5 (hex) of a buffer or string, to compare with the helpers above. */
export function md5(body: Buffer | string): string {
  return createHash('md5').update(body).digest('hex');
}
