/**
 * What one apply costs in requests, counted where they arrive: a device simulator
 * (test/harness/device-sim.ts) in front of each MinIO, split by client (s5cmd speaks as
 * aws-sdk-go, dualsync's own listings and checks as aws-sdk-js).
 *
 * Stock s5cmd (up to 2.3.0) asks every object of an `s5cmd run` line for its size with a HEAD
 * before the GET (command/cp.go, for the progress bar; upstream issue #792), which doubles the
 * download hop's requests on a device with a connection budget. The s5cmd that
 * scripts/install-tools.sh builds carries scripts/s5cmd-no-head.patch; the same apply with the
 * unpatched build of the same version shows that the patch is what makes the difference.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findS5cmd } from '../../src/apply/s5cmd.ts';
import { md5OfBucket, putObjects, requireStockS5cmd, requireTools, useMinioPair } from '../harness/index.ts';
import { useDeviceSims, type RequestKind } from '../harness/device-sim.ts';
import type { DoctorReport } from '../../src/model/doctor.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();
const deviceSim = useDeviceSims();

/** Objects of a few sizes, all below one download part (one ranged GET each); one is empty. */
const OBJECTS = Array.from({ length: 48 }, (_, i) => ({
  key: `readings/day-${i % 4}/${String(i).padStart(3, '0')}.bin`,
  body: i === 0 ? '' : Buffer.alloc(1 + ((i * 7919) % 200_000), i),
}));
const N = OBJECTS.length;

const GO_SDK = 'aws-sdk-go';

interface Counted {
  source: Record<string, Record<RequestKind, number>>;
  destination: Record<string, Record<RequestKind, number>>;
}

/** Plans and applies OBJECTS with the s5cmd at `s5cmd`, and returns the requests of the apply. */
async function applyCounting(s5cmd: string): Promise<Counted> {
  const [source, destination] = await Promise.all([deviceSim(pair.edge, { region: 'us-east-1' }), deviceSim(pair.cloud, { region: 'us-east-1' })]);
  const site = await makeSite(pair, { sourceEndpoint: source.endpoint, destinationEndpoint: destination.endpoint });
  site.env.DUALSYNC_S5CMD = s5cmd;
  await putObjects(pair.edge, site.sourceBucket, OBJECTS);

  const planPath = join(site.dir, 'plan.json');
  const planned = await site.cli('plan', '--out', planPath);
  expect(planned.exitCode, planned.stdout + planned.stderr).toBe(0);
  source.resetCounters();
  destination.resetCounters();
  const applied = await site.cli('apply', planPath);
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  expect(applied.stdout).toMatch(new RegExp(`Apply complete! ${N} downloaded .*${N} delivered`));
  const counted = { source: structuredClone(source.counters.byClient), destination: structuredClone(destination.counters.byClient) };
  const [from, to] = await Promise.all([md5OfBucket(pair.edge, site.sourceBucket), md5OfBucket(pair.cloud, site.destinationBucket)]);
  expect(to).toEqual(from);
  expect(to.size).toBe(N);
  return counted;
}

const none: Record<RequestKind, number> = { listV1: 0, listV2: 0, get: 0, head: 0, put: 0, post: 0, delete: 0, other: 0 };

describe('requests of an apply, counted at the servers', () => {
  it(`the s5cmd npm run tools builds: ${N} objects cost exactly ${N} GETs and no HEAD on the source, ${N} PUTs on the destination`, async () => {
    const patched = requireTools().s5cmd;
    const counted = await applyCounting(patched);
    console.info(`patched s5cmd, ${N} objects: source ${JSON.stringify(counted.source)}; destination ${JSON.stringify(counted.destination)}`);
    expect(counted.source[GO_SDK]).toEqual({ ...none, get: N });
    expect(counted.destination[GO_SDK]).toEqual({ ...none, put: N });
    // What doctor says of it.
    expect((await findS5cmd({ PATH: '', DUALSYNC_S5CMD: patched })).headPerDownload).toBe(false);
  });

  it(`the same apply with the unpatched s5cmd of the same version makes a HEAD before each of the ${N} GETs`, async () => {
    const stock = requireStockS5cmd();
    const counted = await applyCounting(stock);
    console.info(`stock s5cmd, ${N} objects: source ${JSON.stringify(counted.source)}; destination ${JSON.stringify(counted.destination)}`);
    expect(counted.source[GO_SDK]).toEqual({ ...none, get: N, head: N });
    expect(counted.destination[GO_SDK]).toEqual({ ...none, put: N });
    // What doctor says of it.
    expect((await findS5cmd({ PATH: '', DUALSYNC_S5CMD: stock })).headPerDownload).toBe(true);
  });
});

describe('doctor names the cost of a stock s5cmd', () => {
  it('with the stock build: the s5cmd row warns that each download costs a HEAD too, and doctor still exits 0', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'one.txt', body: 'one' }]);
    site.env.DUALSYNC_S5CMD = requireStockS5cmd();
    const stock = await site.cli('doctor', '--json');
    const row = (JSON.parse(stock.stdout) as DoctorReport).checks.find((check) => check.scope === 's5cmd');
    expect(row).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^s5cmd 2\.3\.0 at .*HEAD request before every download/), fix: expect.stringMatching(/npm run tools/) });
    expect(stock.exitCode, stock.stdout).toBe(0);

    site.env.DUALSYNC_S5CMD = requireTools().s5cmd;
    const patched = await site.cli('doctor', '--json');
    expect((JSON.parse(patched.stdout) as DoctorReport).checks.find((check) => check.scope === 's5cmd')).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^s5cmd 2\.3\.0\+nohead\.1 at /),
    });
  });
});
