/**
 * Content comparison for adoption (invariant 9): when the ETags cannot prove that the
 * destination already holds the source's version, both objects are streamed through MD5 and
 * compared. Reading only: nothing is written, and a read that fails is a failure with its
 * reason, never a delivery.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { HopConfig } from '../model/config.ts';
import { etagShape } from '../plan/etag.ts';
import { classifyS3Error } from '../inventory/s3.ts';
import { describeError, isDualsyncError, opError } from '../errors.ts';
import type { FailureFacts } from '../model/failure.ts';
import type { Side } from '../model/side.ts';

/** One hop's object as the plan saw it: its relative key, size and listed ETag. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
}

function unquote(etag: string | undefined): string {
  if (etag === undefined) return '';
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/**
 * Reads one object's bytes with GetObject, handing each chunk to `onChunk` as it arrives. Throws
 * when the object is no longer the one listed (another ETag or size: it changed since the plan)
 * or the read fails or is short.
 */
export async function readObject(client: S3Client, hop: HopConfig, object: ListedObject, onChunk: (chunk: Buffer) => void, signal?: AbortSignal): Promise<void> {
  const where = `s3://${hop.bucket}/${hop.prefix}${object.key}`;
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: hop.bucket, Key: hop.prefix + object.key }), { abortSignal: signal });
    const body = answer.Body as Readable | undefined;
    const etag = unquote(answer.ETag);
    if (etag !== object.etag || (answer.ContentLength !== undefined && answer.ContentLength !== object.size)) {
      body?.destroy();
      throw opError('E_CONTENT_CHANGED', `${where} changed since the plan (ETag ${etag}, ${answer.ContentLength ?? '?'} bytes; the plan saw ${object.etag}, ${object.size} bytes)`, {
        retryable: true,
      });
    }
    let bytes = 0;
    if (body !== undefined) {
      // 'data' events rather than `for await`: no promise per chunk (measured: ~8% less CPU per byte).
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        onChunk(chunk);
      });
      // Rejects on an error or a close before the end (an aborted read).
      await finished(body);
    }
    if (bytes !== object.size) {
      throw opError('E_CONTENT_SHORT', `reading ${where} gave ${bytes} bytes, expected ${object.size}`, { retryable: true });
    }
  } catch (error) {
    if (isDualsyncError(error)) throw error;
    throw classifyS3Error(error, { ...hop, prefix: hop.prefix + object.key }, 'reading');
  }
}

/**
 * The MD5 (hex) of one object's bytes, read with GetObject. Throws when the object is no longer
 * the one listed (another ETag or size: it changed since the plan) or the read fails or is short.
 */
export async function objectMd5(client: S3Client, hop: HopConfig, object: ListedObject, signal?: AbortSignal): Promise<string> {
  const hash = createHash('md5');
  await readObject(client, hop, object, (chunk) => hash.update(chunk), signal);
  return hash.digest('hex');
}

/** The MD5 of an object's content: its plain MD5 ETag when it has one (nothing to read), else read from the hop. */
export async function contentMd5(client: S3Client, hop: HopConfig, object: ListedObject, signal?: AbortSignal): Promise<string> {
  const shape = etagShape(object.etag);
  if (shape.kind === 'md5') return shape.md5;
  return objectMd5(client, hop, object, signal);
}

export type ContentComparison = { same: true; md5: string } | { same: false; failure: FailureFacts; differs: boolean };

/**
 * Compares the source's object with the destination's by their MD5s. `differs` is true when
 * both were read and they differ; a read that failed says why, with `differs` false.
 */
export async function compareContent(
  read: (side: Side, object: ListedObject) => Promise<string>,
  source: ListedObject,
  destination: ListedObject,
): Promise<ContentComparison> {
  let sourceMd5: string;
  let destinationMd5: string;
  try {
    [sourceMd5, destinationMd5] = await Promise.all([read('source', source), read('destination', destination)]);
  } catch (error) {
    const errorCode = isDualsyncError(error) ? { errorCode: error.code } : {};
    return { same: false, differs: false, failure: { code: 'content-unreadable', cause: describeError(error), ...errorCode } };
  }
  if (sourceMd5 === destinationMd5) return { same: true, md5: sourceMd5 };
  return {
    same: false,
    differs: true,
    failure: { code: 'content-differs', sourceMd5, destinationMd5 },
  };
}
