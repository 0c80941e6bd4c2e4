/**
 * The integration test harness: real MinIO servers, real s5cmd, tracked processes and temporary
 * folders. Every integration test file ends with `afterAll(cleanup)`.
 */
import { stopAllProcesses } from './processes.ts';
import { removeTempDirs } from './temp.ts';

export { createBucket, getObjectMd5, listAll, md5, md5OfBucket, putMultipart, putObjects } from './buckets.ts';
export type { ListedObject } from './buckets.ts';
export { clientFor, freePort, hopFor, startMinio, startPair, useMinioPair } from './minio.ts';
export type { MinioPair, MinioServer } from './minio.ts';
export { alive, liveChildren, livingChildren, runProcess, s5cmdChildren, startProcess, stopAllProcesses } from './processes.ts';
export type { LiveProcess, TrackedProcess } from './processes.ts';
export { removeTempDirs, tempDir, tempDirSync } from './temp.ts';
export { dualsyncFailure } from './failures.ts';
export { requireStockS5cmd, requireTools, requireToxiproxy, toolsDir } from './tools.ts';
export type { Tools } from './tools.ts';

/** Stops every process the file started and removes its temporary folders; for afterAll. */
export async function cleanup(): Promise<void> {
  await stopAllProcesses();
  await removeTempDirs();
}
