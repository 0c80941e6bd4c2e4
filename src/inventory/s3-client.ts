/**
 * The S3 client of a hop and what its errors mean: endpoint, region, credentials, TLS trust,
 * proxy and connection budget in; SDK and network errors out as operational errors that say
 * whether a retry can help. Listing lives in s3.ts, reachability in reach.ts.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { describeError, opError, userError } from '../errors.ts';
import type { DualsyncError } from '../errors.ts';
import type { HopConfig } from '../model/config.ts';
import type { ObjectEntry } from '../model/objects.ts';
import { requireCredentials } from '../config/credentials.ts';

const DEFAULT_MAX_SOCKETS = 50;

/**
 * An S3 client for one hop: its endpoint, addressing, region (`snow` is the Snowball's signing
 * region and is used as it is), credentials, TLS trust and proxy. Sockets are capped by the
 * hop's connection budget, since a Snowball drops connections beyond 1,000. On a hop with a
 * budget the client also keeps no idle connection: the listing is done before s5cmd starts, and
 * a kept-alive socket would hold one of the device's connections while s5cmd uses the whole
 * budget (measured: one over the budget, and dropped connections, at a device capped at it).
 */
export function createS3Client(hop: HopConfig, options: { maxSockets?: number } = {}): S3Client {
  requireCredentials(hop);
  const maxSockets = Math.max(1, Math.min(options.maxSockets ?? DEFAULT_MAX_SOCKETS, hop.maxConnections ?? Number.POSITIVE_INFINITY));
  const keepAlive = hop.maxConnections === undefined;
  const agentOptions: https.AgentOptions & { proxyEnv?: Record<string, string> } = { keepAlive, maxSockets };
  if (hop.tls.caBundle !== undefined) {
    try {
      agentOptions.ca = readFileSync(hop.tls.caBundle);
    } catch (error) {
      throw userError('E_CA_BUNDLE', `cannot read the CA bundle ${hop.tls.caBundle} of bucket ${hop.bucket}: ${describeError(error)}`, {
        hint: 'Point tls.caBundle at the PEM file (for a Snowball: the output of `snowballEdge get-certificate`).',
      });
    }
  }
  if (!hop.tls.verify) agentOptions.rejectUnauthorized = false;
  // Node's agents take a proxy from proxyEnv (Node 24.5+), so each hop can have its own.
  if (hop.proxy !== undefined) agentOptions.proxyEnv = { HTTPS_PROXY: hop.proxy, HTTP_PROXY: hop.proxy };

  const config: S3ClientConfig = {
    region: hop.region,
    // An S3 on Outposts access point ARN as Bucket: the SDK makes the host from the ARN and signs
    // for `s3-outposts`. Left unset, this SDK quietly follows the ARN's region; false makes it
    // refuse a region other than the hop's, as the config check does, unless useArnRegion says so.
    useArnRegion: hop.useArnRegion === true,
    forcePathStyle: hop.addressing === 'path',
    // A link that silently drops packets must end in a (retryable) error, not hang a run that
    // holds the lock: connecting may take 15 s, a request may sit idle 60 s, then the SDK retries.
    // The idle limit is socketTimeout: this SDK's requestTimeout only logs a warning unless
    // throwOnRequestTimeout is set (measured: a listing of a server that accepts the connection
    // and never answers hung for good; with socketTimeout it fails after 189 s, three attempts).
    requestHandler: { httpAgent: new http.Agent(agentOptions), httpsAgent: new https.Agent(agentOptions), connectionTimeout: 15_000, socketTimeout: 60_000 },
    // The hop's endpoint, or AWS's: never one picked up from AWS_ENDPOINT_URL* in the shell.
    ignoreConfiguredEndpointUrls: true,
    // Devices such as the Snowball adapter reject the newer flexible checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (hop.endpoint !== undefined) config.endpoint = hop.endpoint;
  const credentials = hop.credentials;
  if (credentials.kind === 'static') {
    config.credentials = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken };
  } else if (credentials.kind === 'profile') {
    config.profile = credentials.profile;
  }
  return new S3Client(config);
}

export function where(hop: HopConfig, key?: string): string {
  const at = hop.endpoint === undefined ? `region ${hop.region}` : hop.endpoint;
  return `s3://${hop.bucket}/${hop.prefix}${key ?? ''} (${at})`;
}

const ACCESS_ERRORS = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'AllAccessDisabled', 'Forbidden']);
const TLS_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const FETCH_CERTIFICATE =
  'fetch the device certificate (`snowballEdge list-certificates`, then `snowballEdge get-certificate --certificate-arn ARN`) and save it as a PEM file';

/**
 * What to do about a certificate the hop does not trust. A Snowball's certificate is made by the
 * device and names its IP, so it is new after the IP changes (or the device is unlocked after the
 * old one was deleted or expired): a CA bundle that worked yesterday can be the cause today.
 */
function tlsHint(hop: HopConfig, tlsCode: string): string {
  if (tlsCode === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `The server's certificate does not name the host of ${hop.endpoint ?? 'this endpoint'}. Use the address the certificate was made for; a Snowball Edge's certificate names its IP, so if the device's IP changed, ${FETCH_CERTIFICATE} over tls.caBundle.`;
  }
  if (hop.tls.caBundle !== undefined) {
    return `The server's certificate is not signed by tls.caBundle (${hop.tls.caBundle}). A Snowball Edge makes a new certificate when its IP changes or it is unlocked after the old one was deleted or expired: ${FETCH_CERTIFICATE} over ${hop.tls.caBundle}.`;
  }
  return `The server's certificate is not trusted. For a Snowball Edge, ${FETCH_CERTIFICATE}, then set tls.caBundle to that file (docs/snowball.md). Use tls.verify: false only on a network you trust.`;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

/** Turns an SDK or network error into an operational error that says whether a retry can help. */
export function classifyS3Error(error: unknown, hop: HopConfig, doing: string): DualsyncError {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = shape.name ?? '';
  const status = shape.$metadata?.httpStatusCode;
  const detail = describeError(error) || name;
  const message = `${doing} ${where(hop)} failed: ${name && !detail.includes(name) ? `${name}: ` : ''}${detail}`;
  const tlsCode = shape.code ?? (error as { cause?: { code?: string } })?.cause?.code ?? '';
  if (ACCESS_ERRORS.has(name) || status === 403) {
    return opError('E_S3_ACCESS', message, {
      hint: `The credentials of this hop are wrong or may not list bucket ${hop.bucket}: check the access key, secret and profile, and s3:ListBucket / s3:GetObject permissions.`,
      cause: error,
    });
  }
  if (name === 'NoSuchBucket') {
    const hint =
      hop.region === 'snow'
        ? `The Snowball's S3 adapter has no bucket ${hop.bucket}. Check the bucket name; if the device was reset or replaced, re-provision it as docs/snowball.md describes.`
        : `Bucket ${hop.bucket} was not found at this endpoint: check the bucket name, endpoint and region of this hop.`;
    return opError('E_S3_NO_BUCKET', message, { hint, cause: error });
  }
  if (TLS_ERRORS.has(tlsCode)) {
    return opError('E_S3_TLS', message, { hint: tlsHint(hop, tlsCode), cause: error });
  }
  const retryable = status === undefined || status >= 500 || status === 429 || status === 408 || name === 'SlowDown' || name === 'RequestTimeout';
  return opError('E_S3_FAILED', message, {
    hint: retryable ? 'The server or the network failed; a later run retries.' : undefined,
    retryable,
    cause: error,
  });
}

export function unquote(etag: string | undefined): string {
  if (etag === undefined) return '';
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/** One object's size and ETag by relative key; undefined only when the server says it does not exist. */
export async function headObject(client: S3Client, hop: HopConfig, key: string): Promise<ObjectEntry | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: hop.bucket, Key: hop.prefix + key }));
    return { key, size: head.ContentLength ?? 0, etag: unquote(head.ETag) };
  } catch (error) {
    const shape = error as SdkErrorShape;
    if (shape.name === 'NotFound' || shape.name === 'NoSuchKey' || shape.$metadata?.httpStatusCode === 404) return undefined;
    throw classifyS3Error(error, { ...hop, prefix: hop.prefix + key }, 'reading the header of');
  }
}
