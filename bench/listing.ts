/**
 * `npm run bench -- listing [--v1|--v2] [N...]`: lists N synthetic objects (default 1,000,000) the way
 * `plan` does (openListing, read to the end as a stream, nothing kept), from the synthetic listing
 * server of test/harness: ListObjectsV2 in pages of 1,000, and ListObjects v1 as one unpaginated,
 * shuffled answer, as a Snowball's adapter sends it, sorted through the on-disk external sort.
 * Each listing runs in its own process so that its peak RSS is its own. Beside it, the floor:
 * the time to receive the same bytes with curl (following the v2 pages).
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createS3Client, openListing } from '../src/inventory/s3.ts';
import type { HopConfig } from '../src/model/config.ts';
import { compareKeys } from '../src/plan/keys.ts';
import { startListingServer } from '../test/harness/listing-server.ts';

const MIB = 1024 * 1024;

function hop(endpoint: string, listApi: 'v1' | 'v2'): HopConfig {
  return {
    bucket: 'edge',
    prefix: 'data/',
    region: 'us-east-1',
    endpoint,
    addressing: 'path',
    tls: { verify: true },
    listApi,
    credentials: { kind: 'static', accessKeyId: 'bench', secretAccessKey: 'bench-secret', inline: false },
  };
}

/**
 * Child mode: open the listing, read every entry (checking the order, keeping none), close, and
 * print {ms, openMs, entries, maxRss} as JSON. openMs: until the stream was open (v2: the first
 * page; v1: the whole answer received and sorted).
 */
async function listOnce(endpoint: string, listApi: 'v1' | 'v2'): Promise<void> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'dualsync-bench-spool-'));
  try {
    const start = performance.now();
    const client = createS3Client(hop(endpoint, listApi));
    const listing = await openListing(client, hop(endpoint, listApi), { spoolDir });
    const openMs = performance.now() - start;
    let entries = 0;
    let previous = '';
    for await (const page of listing.pages) {
      for (const entry of page) {
        if (entries > 0 && compareKeys(previous, entry.key) >= 0) throw new Error(`out of order: ${entry.key} after ${previous}`);
        previous = entry.key;
        entries++;
      }
    }
    await listing.close();
    client.destroy();
    console.log(JSON.stringify({ ms: performance.now() - start, openMs, entries, maxRss: process.resourceUsage().maxRSS * 1024 }));
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

/**
 * Seconds to receive every byte of the listing with curl: the floor of any client. The server
 * runs in this process, so everything here waits asynchronously. The v2 pages are fetched by
 * one curl (its URL list keeps one connection), since the server's tokens are plain indexes.
 */
async function curlFloor(endpoint: string, listApi: 'v1' | 'v2', count: number): Promise<number> {
  const start = performance.now();
  const urls: string[] = [];
  if (listApi === 'v1') urls.push(`${endpoint}/edge?prefix=data%2F`);
  else for (let token = 0; token < count; token += 1000) urls.push(`${endpoint}/edge?list-type=2&prefix=data%2F&continuation-token=${token}`);
  const config = urls.map((url) => `url = "${url}"\noutput = "/dev/null"\n`).join('');
  await execa('curl', ['-sS', '--fail', '--config', '-'], { input: config });
  return (performance.now() - start) / 1000;
}

export async function benchListing(args: string[]): Promise<void> {
  if (args[0] === '--child') return listOnce(args[1] as string, args[2] as 'v1' | 'v2');
  const apis = args.includes('--v1') ? (['v1'] as const) : args.includes('--v2') ? (['v2'] as const) : (['v2', 'v1'] as const);
  const numbers = args.filter((arg) => !arg.startsWith('--')).map(Number);
  const sizes = numbers.length > 0 ? numbers : [1_000_000];
  const self = fileURLToPath(new URL('./run.ts', import.meta.url));
  for (const count of sizes) {
    const server = await startListingServer({ buckets: { edge: { count, prefix: 'data/' } } });
    try {
      for (const listApi of apis) {
        const floor = await curlFloor(server.endpoint, listApi, count);
        const child = await execa(process.execPath, [self, 'listing', '--child', server.endpoint, listApi], { reject: false });
        if (child.exitCode !== 0) {
          console.log(`  ${count.toLocaleString('en')} objects, ${listApi}: FAILED (exit ${child.exitCode}): ${child.stderr.trim().split('\n').slice(-3).join(' | ')}`);
          continue;
        }
        const result = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { ms: number; openMs: number; entries: number; maxRss: number };
        const seconds = result.ms / 1000;
        console.log(
          `  ${count.toLocaleString('en')} objects, ${listApi} stream: ${seconds.toFixed(1)} s (open ${(result.openMs / 1000).toFixed(1)} s), peak RSS ${(result.maxRss / MIB).toFixed(0)} MiB, ${result.entries.toLocaleString('en')} entries; curl floor ${floor.toFixed(1)} s (${(seconds / floor).toFixed(2)}x)`,
        );
      }
    } finally {
      await server.close();
    }
  }
}
