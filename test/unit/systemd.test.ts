import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { systemdUnit, systemdWord, writableFolder, writablePaths, type ServiceUnitInput } from '../../src/ops/systemd.ts';

const REPO = new URL('../..', import.meta.url).pathname;

const site: ServiceUnitInput = {
  configFile: '/etc/dualsync/sync.yaml',
  executable: { kind: 'release', path: '/opt/dualsync-0.1.0-linux-x64/dualsync' },
  user: 'dualsync',
  environmentFile: '/etc/dualsync/dualsync.env',
  stateDir: '/var/lib/dualsync',
  volumes: ['/srv/staging-*'],
};

/** The settings of a unit, `Key=value` per line, without comments and blank lines. */
function settings(unit: string): string[] {
  return unit.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

function setting(unit: string, key: string): string[] {
  return settings(unit).filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

describe('systemd unit for a config', () => {
  it('runs watch on the absolute config path, from its folder, as the given user, with the secrets from a file', () => {
    const unit = systemdUnit(site);
    expect(setting(unit, 'ExecStart')).toEqual(['/opt/dualsync-0.1.0-linux-x64/dualsync watch -c /etc/dualsync/sync.yaml']);
    expect(setting(unit, 'WorkingDirectory')).toEqual(['/etc/dualsync']);
    expect(setting(unit, 'User')).toEqual(['dualsync']);
    expect(setting(unit, 'EnvironmentFile')).toEqual(['/etc/dualsync/dualsync.env']);
    expect(unit).toMatch(/# ExecStart: the release executable that wrote this unit/);
    // The release executable needs no Node on the PATH.
    expect(setting(unit, 'Environment')).toEqual([]);
  });

  it('restarts on failure, and stops the way watch stops: SIGTERM to dualsync alone, SIGKILL to all at the timeout', () => {
    const unit = systemdUnit(site);
    expect(setting(unit, 'Restart')).toEqual(['on-failure']);
    expect(setting(unit, 'RestartSec')).toEqual(['30s']);
    expect(setting(unit, 'KillMode')).toEqual(['mixed']);
    expect(setting(unit, 'KillSignal')).toEqual(['SIGTERM']);
    expect(setting(unit, 'TimeoutStopSec')).toEqual(['15min']);
    expect(setting(systemdUnit({ ...site, stopTimeout: '2h' }), 'TimeoutStopSec')).toEqual(['2h']);
    expect(setting(unit, 'WantedBy')).toEqual(['multi-user.target']);
  });

  it('hardening leaves the state directory and the volumes writable, and nothing else', () => {
    const unit = systemdUnit(site);
    expect(setting(unit, 'NoNewPrivileges')).toEqual(['yes']);
    expect(setting(unit, 'ProtectSystem')).toEqual(['strict']);
    expect(setting(unit, 'ProtectHome')).toEqual(['read-only']);
    expect(setting(unit, 'ReadWritePaths')).toEqual(['/var/lib/dualsync /srv']);
    expect(setting(unit, 'PrivateTmp')).toEqual(['yes']);
    // V8 needs writable executable memory.
    expect(unit).not.toMatch(/MemoryDenyWriteExecute/);
  });

  it('a state directory or a volume in /tmp gets no private /tmp, which would hide it', () => {
    const unit = systemdUnit({ ...site, stateDir: '/var/lib/dualsync', volumes: ['/tmp/site/volume-*'] });
    expect(setting(unit, 'ReadWritePaths')).toEqual(['/var/lib/dualsync /tmp/site']);
    expect(setting(unit, 'PrivateTmp')).toEqual([]);
  });

  it("a checkout's launcher runs by its real path, with the Node that wrote the unit first on the PATH", () => {
    const unit = systemdUnit({ ...site, executable: { kind: 'launcher', path: '/home/op/dualsync/bin/dualsync', node: '/home/op/dualsync/node_modules/node/bin/node' } });
    expect(setting(unit, 'ExecStart')).toEqual(['/home/op/dualsync/bin/dualsync watch -c /etc/dualsync/sync.yaml']);
    expect(setting(unit, 'Environment')).toEqual(['PATH=/home/op/dualsync/node_modules/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(unit).toMatch(/# ExecStart: the launcher of the checkout that wrote this unit \(its real path/);
  });

  it('paths with spaces, % and $ are quoted and escaped as systemd reads them', () => {
    const unit = systemdUnit({ ...site, configFile: '/srv/site 7/100% $HOME.yaml', stateDir: '/var/lib/site 7', volumes: ['/srv/site 7/volume-*'] });
    expect(setting(unit, 'ExecStart')).toEqual(['/opt/dualsync-0.1.0-linux-x64/dualsync watch -c "/srv/site 7/100%% $$HOME.yaml"']);
    expect(setting(unit, 'WorkingDirectory')).toEqual(['"/srv/site 7"']);
    expect(setting(unit, 'ReadWritePaths')).toEqual(['"/var/lib/site 7" "/srv/site 7"']);
    expect(() => systemdWord('a\nb')).toThrow(/line break/);
  });

  it('volume folders: a directory as it is, a glob by the folder above its first wildcard, nested ones once', () => {
    expect(writableFolder('/mnt/stage-01')).toBe('/mnt/stage-01');
    expect(writableFolder('/mnt/stage-*')).toBe('/mnt');
    expect(writableFolder('/mnt/*/data')).toBe('/mnt');
    expect(writablePaths('/mnt/state', ['/mnt/stage-*', '/srv/a', '/srv/a/b'])).toEqual(['/mnt', '/srv/a']);
  });

  it('the shipped deploy/systemd/dualsync.service is this unit for the documented paths', () => {
    const shipped = readFileSync(`${REPO}deploy/systemd/dualsync.service`, 'utf8');
    const documented = systemdUnit({ ...site, executable: { kind: 'installed', path: '/usr/local/bin/dualsync' }, volumes: ['/srv/dualsync/volume-*'] });
    expect(settings(shipped)).toEqual(settings(documented));
    expect(shipped).toMatch(/chmod 600/);
  });
});
