/**
 * What a hop's link carries, read from /proc, for the stall watchdog (DESIGN invariant 15).
 *
 * What s5cmd has written (`wchar`) is not what the link has carried: the last megabytes of an
 * upload sit in socket buffers (s5cmd's send queue, and on a host with a local proxy or tunnel
 * that proxy's receive queue) and drain at link speed while s5cmd writes nothing. So a sample
 * holds, besides s5cmd's `wchar`, the queues of each TCP socket s5cmd holds (found by the
 * `socket:[INODE]` links under /proc/PID/fd, looked up in /proc/PID/net/tcp and tcp6): its send
 * and receive queue, and those of its peer when the peer is on this host (the same connection
 * seen from the other end, in the same table). A queue that changes or a write is progress; a
 * black-holed link changes none of them.
 *
 * What is left out, on purpose: `rchar` counts the run-file lines s5cmd reads from its stdin, fed
 * by the other hop while this one may be dead; and a connection opened is only a SYN sent. Data
 * that arrives shows as a receive queue, or as the write of a downloaded file.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** One socket row of /proc/net/tcp or tcp6. */
export interface TcpSocket {
  /** `ADDR:PORT` in the kernel's hex, as printed. */
  local: string;
  remote: string;
  /** Bytes not yet acknowledged by the other end (established sockets). */
  sendQueue: number;
  /** Bytes received and not yet read by the process. */
  receiveQueue: number;
  inode: string;
}

/** The queues of one socket a process holds, and of its peer when the peer is on this host. */
export interface SocketQueues {
  sendQueue: number;
  receiveQueue: number;
  peer?: { sendQueue: number; receiveQueue: number };
}

/**
 * A sample of a process's link: compared with the previous one (linkMoved), any difference is
 * progress. `sockets` holds every socket the process has open, by inode; a socket missing from
 * the tcp tables (a unix socket, or a row the kernel skipped while the table changed) has no
 * queues.
 */
export interface LinkSample {
  written: number;
  sockets: ReadonlyMap<string, SocketQueues | undefined>;
}

/** `wchar` of a /proc/PID/io text (bytes the process has written); undefined when it is missing. */
export function parseWrittenBytes(text: string): number | undefined {
  const written = /^wchar:\s*(\d+)$/m.exec(text);
  return written === null ? undefined : Number(written[1]);
}

/** The inode of a /proc/PID/fd link target that is a socket (`socket:[12345]`), else undefined. */
export function socketInode(linkTarget: string): string | undefined {
  return /^socket:\[(\d+)\]$/.exec(linkTarget)?.[1];
}

/**
 * The rows of a /proc/net/tcp or tcp6 text. The header line and lines that do not parse are
 * skipped: the table is the kernel's, and a row it adds a field to must not stop the reading.
 */
export function parseTcpTable(text: string): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0]!)) continue;
    const queues = /^([0-9A-Fa-f]+):([0-9A-Fa-f]+)$/.exec(fields[4]!);
    const inode = fields[9]!;
    if (queues === null || !/^\d+$/.test(inode)) continue;
    sockets.push({ local: fields[1]!, remote: fields[2]!, sendQueue: parseInt(queues[1]!, 16), receiveQueue: parseInt(queues[2]!, 16), inode });
  }
  return sockets;
}

/**
 * The queues of the sockets whose inode is in `inodes`, and of their peers on this host (the row
 * whose local and remote addresses are the socket's remote and local ones).
 */
export function queuesOf(table: readonly TcpSocket[], inodes: ReadonlySet<string>): Map<string, SocketQueues | undefined> {
  const byAddresses = new Map<string, TcpSocket>();
  for (const socket of table) byAddresses.set(`${socket.local} ${socket.remote}`, socket);
  const queues = new Map<string, SocketQueues | undefined>([...inodes].map((inode) => [inode, undefined]));
  for (const socket of table) {
    if (!inodes.has(socket.inode) || queues.get(socket.inode) !== undefined) continue;
    // A listening socket has a remote of all zeros, and so no peer.
    const peer = /^0+:0+$/.test(socket.remote) ? undefined : byAddresses.get(`${socket.remote} ${socket.local}`);
    queues.set(socket.inode, {
      sendQueue: socket.sendQueue,
      receiveQueue: socket.receiveQueue,
      ...(peer === undefined || inodes.has(peer.inode) ? {} : { peer: { sendQueue: peer.sendQueue, receiveQueue: peer.receiveQueue } }),
    });
  }
  return queues;
}

/**
 * Whether the link moved between two samples: a write, or a queue of a socket (or of its peer)
 * that changed. Only a socket seen in both samples is compared: a socket opened (a SYN sent into
 * a black hole) or closed is no evidence, and the kernel prints its tcp tables a page at a time,
 * so a row can be missing from one reading or read twice while other sockets come and go on a
 * busy host.
 */
export function linkMoved(before: LinkSample, after: LinkSample): boolean {
  if (before.written !== after.written) return true;
  for (const [inode, now] of after.sockets) {
    const then = before.sockets.get(inode);
    if (then === undefined || now === undefined) continue;
    if (then.sendQueue !== now.sendQueue || then.receiveQueue !== now.receiveQueue) return true;
    if (then.peer !== undefined && now.peer !== undefined && (then.peer.sendQueue !== now.peer.sendQueue || then.peer.receiveQueue !== now.peer.receiveQueue)) return true;
  }
  return false;
}

/** The inodes of the sockets a process holds open; undefined when its fd folder cannot be read. */
async function socketInodesOf(pid: number): Promise<Set<string> | undefined> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = new Set<string>();
  await Promise.all(
    fds.map(async (fd) => {
      // An fd closed between the listing and the read is simply not there any more.
      const inode = socketInode(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
      if (inode !== undefined) inodes.add(inode);
    }),
  );
  return inodes;
}

/**
 * A sample of what process `pid`'s link carries, or undefined where /proc cannot tell (no /proc,
 * the process gone, or not readable): the watchdog then never stops the hop. Reads only this
 * process's io counters, its fd links, and its network namespace's tcp tables.
 */
export async function sampleLink(pid: number | undefined): Promise<LinkSample | undefined> {
  if (pid === undefined) return undefined;
  try {
    const written = parseWrittenBytes(await readFile(`/proc/${pid}/io`, 'utf8'));
    const inodes = await socketInodesOf(pid);
    if (written === undefined || inodes === undefined) return undefined;
    // tcp6 is missing on a kernel without IPv6; tcp is always there where /proc/PID/net is.
    const [tcp, tcp6] = await Promise.all([readFile(`/proc/${pid}/net/tcp`, 'utf8'), readFile(`/proc/${pid}/net/tcp6`, 'utf8').catch(() => '')]);
    return { written, sockets: queuesOf([...parseTcpTable(tcp), ...parseTcpTable(tcp6)], inodes) };
  } catch {
    return undefined;
  }
}
