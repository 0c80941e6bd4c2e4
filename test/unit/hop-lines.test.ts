import { describe, expect, it } from 'vitest';
import { actionOfCommand, lineNames } from '../../src/apply/hop.ts';
import type { Action, Hop } from '../../src/model/index.ts';
import { testConfig } from '../builders.ts';

const config = testConfig();
const action = (kind: Action['kind'], key: string): Action => ({ kind, key, size: 1, etag: 'e', volume: '/v1' });

/** The endings of these actions' lines on a hop, as the s5cmd hop keeps them. */
function endings(hop: Hop, actions: Action[]): Map<string, Action> {
  const names = lineNames(hop, config);
  return new Map(actions.map((a) => [names.ending(a), a]));
}

describe("s5cmd's error lines matched back to their action", () => {
  // s5cmd --json writes a failed line as {"command":"cp SOURCE DESTINATION", ...}: flags dropped,
  // words re-joined with single spaces, no quotes (as s5cmd 2.2.2 prints it).
  it.each([
    ['a download, by its source and temporary file', 'download', 'cp s3://edge/sensors/dir/a b /v1/.dualsync-tmp/dir/a b', 'dir/a b'],
    ['an upload, by its local file and destination', 'upload', 'cp /v1/dir/a b s3://archive/site-7/dir/a b', 'dir/a b'],
    ['a key that ends another key', 'download', 'cp s3://edge/sensors/b /v1/.dualsync-tmp/b', 'b'],
    ['a key with a leading dash and quotes', 'upload', `cp /v1/-x "y' s3://archive/site-7/-x "y'`, `-x "y'`],
    ['a line of no action sent', 'download', 'cp s3://edge/sensors/other /v1/.dualsync-tmp/other', undefined],
  ] as const)('%s', (_name, hop, command, key) => {
    const kind = hop === 'download' ? 'download' : 'upload';
    const sent = endings(hop, ['dir/a b', 'b', `-x "y'`].map((k) => action(kind, k)));
    expect(actionOfCommand(command, sent)?.key).toBe(key);
  });

  it('the path a finished line is reported by: the temporary file of a download, the local file of an upload', () => {
    expect(lineNames('download', config).reported(action('download', 'dir/a b'))).toBe('/v1/.dualsync-tmp/dir/a b');
    expect(lineNames('upload', config).reported(action('upload', 'dir/a b'))).toBe('/v1/dir/a b');
  });
});
