/** What `dualsync volumes list` finds: each configured volume with its filesystem, space and staged files. Types only. */

export interface VolumeRow {
  /** The staging.volumes entry (absolute; may be a glob) this row comes from. */
  entry: string;
  /** The directory, or undefined when the entry matches none. */
  root?: string;
  /** Why the volume cannot be used (missing, unreadable); the other fields are then absent. */
  problem?: string;
  mountPoint?: string;
  fsType?: string;
  /** Device or source of the filesystem. */
  device?: string;
  /** True when the volume lies on the filesystem mounted at /: a disk that did not mount, perhaps. */
  onRootFilesystem?: boolean;
  totalBytes?: number;
  freeBytes?: number;
  reserveBytes?: number;
  stagedFiles?: number;
  stagedBytes?: number;
  /** Files of interrupted downloads in `.dualsync-tmp/`. */
  leftovers?: number;
}

export interface VolumeList {
  volumes: VolumeRow[];
}
