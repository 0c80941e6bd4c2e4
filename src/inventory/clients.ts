/**
 * The S3 clients of a run, one per hop, each capped by its hop's connection budget, and their
 * closing: a watch cycle must not keep connections a device counts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../model/config.ts';
import { createS3Client } from './s3-client.ts';

export interface Clients {
  source: S3Client;
  destination: S3Client;
}

/** S3 clients for both hops, each capped by its hop's connection budget. */
export function createClients(config: Config): Clients {
  return {
    source: createS3Client(config.source, { maxSockets: config.source.maxConnections }),
    destination: createS3Client(config.destination, { maxSockets: config.destination.maxConnections }),
  };
}

/** Closes the clients' idle sockets: a watch cycle must not keep connections a device counts. */
export function destroyClients(clients: Clients): void {
  clients.source.destroy();
  clients.destination.destroy();
}
