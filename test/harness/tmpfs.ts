/**
 * Small tmpfs mounts for the tests that need a disk to fill (full staging volume, full state
 * directory, two volumes on one filesystem). Mounting needs root; where it is not permitted the
 * tests say so in their names or show as skipped, never as passed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a tmpfs of `size` (e.g. '8m') on `dir`; false when that is not permitted. */
export function mountTmpfs(dir: string, size: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

/** Unmounts `dir`, lazily when something still holds it. */
export function unmount(dir: string): void {
  if (spawnSync('umount', [dir], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
}

/** Whether this machine lets the tests mount a tmpfs, tried once on a scratch folder. */
export function canMountTmpfs(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'dualsync-mount-probe-'));
  try {
    if (!mountTmpfs(probe, '1m')) return false;
    unmount(probe);
    return true;
  } finally {
    rmdirSync(probe);
  }
}

/** Makes `path` (a file or a folder) read-only by a read-only bind mount of itself; false when mounting is not permitted. */
export function bindReadOnly(path: string): boolean {
  if (spawnSync('mount', ['--bind', path, path], { stdio: 'ignore' }).status !== 0) return false;
  if (spawnSync('mount', ['-o', 'remount,ro,bind', path], { stdio: 'ignore' }).status === 0) return true;
  unmount(path);
  return false;
}

/** Whether this machine lets the tests make a read-only bind mount (and it refuses writes), tried once on a scratch folder. */
export function canBindReadOnly(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'dualsync-ro-probe-'));
  try {
    if (!bindReadOnly(probe)) return false;
    let refused = false;
    try {
      writeFileSync(join(probe, 'x'), 'x');
    } catch {
      refused = true;
    }
    unmount(probe);
    return refused;
  } finally {
    rmdirSync(probe);
  }
}
