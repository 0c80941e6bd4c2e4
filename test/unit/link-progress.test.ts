import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { linkMoved, parseWrittenBytes, parseTcpTable, queuesOf, sampleLink, socketInode, type LinkSample, type SocketQueues } from '../../src/apply/link-progress.ts';

/**
 * Captured from a real upload (s5cmd 2.2.2, two parts at once through a Toxiproxy at 50 KB/s a
 * connection, on loopback): three listening sockets, the two connections s5cmd held (inodes 59624
 * and 59630, to the proxy's port 0x86D9, about 1 MiB each in their send queues), their peers on
 * the proxy's side (59625 and 59631, what the proxy had not read yet in their receive queues),
 * and two TIME_WAIT rows (inode 0).
 */
const capturedTcp = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:A62B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 59589 1 00000000d3d648ca 100 0 0 10 0',
  '   1: 0100007F:A793 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 63382 2 0000000084bf42d6 100 0 0 10 4096',
  '   2: 0100007F:A383 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 67279 2 00000000828d3f9b 100 0 0 10 4096',
  ' 237: 0100007F:86D9 0100007F:B3A0 01 00000000:00010C00 02:00000000 00000000     0        0 59631 2 000000003f24619a 20 18 0 11 -1',
  ' 280: 0100007F:B392 0100007F:86D9 01 00103800:00000000 01:00000008 00000000     0        0 59624 3 000000006307e553 24 4 29 14 8',
  ' 281: 0100007F:B3A0 0100007F:86D9 01 00106C00:00000000 04:00000029 00000000     0        0 59630 3 00000000eae2c87f 24 4 31 4 8',
  ' 399: 0100007F:86D9 0100007F:B392 01 00000000:0002E800 02:000002C7 00000000     0        0 59625 2 0000000009b1a9b9 20 18 0 12 -1',
  '  14: 0100007F:9477 0100007F:D1E4 06 00000000:00000000 03:00000447 00000000     0        0 0 3 00000000e68a67aa',
  '  15: 0100007F:84EE 0100007F:902D 06 00000000:00000000 03:00000722 00000000     0        0 0 3 0000000090107d19',
].join('\n');

/** A listening socket, an IPv6 loopback connection and its peer, in tcp6's layout. */
const capturedTcp6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000001000000:B599 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 59562 2 00000000f381fa32 100 0 0 10 4096',
  '   1: 00000000000000000000000001000000:C001 00000000000000000000000001000000:B599 01 00000400:00000000 01:00000008 00000000     0        0 70001 3 0000000000000000 24 4 29 14 8',
  '   2: 00000000000000000000000001000000:B599 00000000000000000000000001000000:C001 01 00000000:00000010 02:00000000 00000000     0        0 70002 2 0000000000000000 20 18 0 11 -1',
].join('\n');

const capturedIo = ['rchar: 21016832', 'wchar: 10487856', 'syscr: 679', 'syscw: 328', 'read_bytes: 0', 'write_bytes: 0', 'cancelled_write_bytes: 0', ''].join('\n');

describe('/proc parsing', () => {
  it('reads wchar from /proc/PID/io', () => {
    expect(parseWrittenBytes(capturedIo)).toBe(10487856);
    expect(parseWrittenBytes('syscr: 1\n')).toBeUndefined();
  });

  it('finds socket inodes among fd link targets, and only those', () => {
    expect(socketInode('socket:[59624]')).toBe('59624');
    for (const other of ['/dev/null', 'pipe:[56793]', 'anon_inode:[eventpoll]', '/tmp/probe/obj.bin', 'socket:[]']) expect(socketInode(other)).toBeUndefined();
  });

  it('reads the queues (hex) and the inode of every row, skipping the header', () => {
    const table = parseTcpTable(capturedTcp);
    expect(table).toHaveLength(9);
    expect(table.find((socket) => socket.inode === '59624')).toEqual({ local: '0100007F:B392', remote: '0100007F:86D9', sendQueue: 0x103800, receiveQueue: 0, inode: '59624' });
    expect(table.find((socket) => socket.inode === '59625')).toEqual({ local: '0100007F:86D9', remote: '0100007F:B392', sendQueue: 0, receiveQueue: 0x2e800, inode: '59625' });
    expect(parseTcpTable(capturedTcp6).map((socket) => socket.inode)).toEqual(['59562', '70001', '70002']);
  });

  it('rows it cannot read are skipped, not fatal', () => {
    expect(parseTcpTable('garbage\n   7: short row\n   8: 0100007F:B392 0100007F:86D9 01 zz:00 01:00000008 00000000 0 0 59624 3\n')).toEqual([]);
  });

  it("finds the queues of the process's sockets and of their peers on this host, and of no other socket", () => {
    const table = [...parseTcpTable(capturedTcp), ...parseTcpTable(capturedTcp6)];
    // 59604 and 59606 are s5cmd's stdout and stderr (unix sockets): in no tcp table.
    expect(queuesOf(table, new Set(['59624', '59630', '59604', '59606']))).toEqual(
      new Map([
        ['59624', { sendQueue: 0x103800, receiveQueue: 0, peer: { sendQueue: 0, receiveQueue: 0x2e800 } }],
        ['59630', { sendQueue: 0x106c00, receiveQueue: 0, peer: { sendQueue: 0, receiveQueue: 0x10c00 } }],
        ['59604', undefined],
        ['59606', undefined],
      ]),
    );
    expect(queuesOf(table, new Set(['70001']))).toEqual(new Map([['70001', { sendQueue: 0x400, receiveQueue: 0, peer: { sendQueue: 0, receiveQueue: 0x10 } }]]));
    // A listening socket has no peer; when both ends are the process's own, each is counted once, as its own.
    expect(queuesOf(table, new Set(['59589']))).toEqual(new Map([['59589', { sendQueue: 0, receiveQueue: 0 }]]));
    expect(queuesOf(table, new Set(['70001', '70002'])).get('70001')).toEqual({ sendQueue: 0x400, receiveQueue: 0 });
  });

  it('a row read twice (the table changed while it was read) counts once', () => {
    const row = ' 280: 0100007F:B392 0100007F:86D9 01 00103800:00000000 01:00000008 00000000     0        0 59624 3 000000006307e553 24 4 29 14 8';
    expect(queuesOf(parseTcpTable([row, row].join('\n')), new Set(['59624'])).get('59624')).toEqual({ sendQueue: 0x103800, receiveQueue: 0 });
  });
});

describe('linkMoved', () => {
  const socket: SocketQueues = { sendQueue: 2139136, receiveQueue: 0, peer: { sendQueue: 0, receiveQueue: 258944 } };
  const still: LinkSample = { written: 10487856, sockets: new Map([['59624', socket], ['59604', undefined]]) };
  const withSocket = (queues: SocketQueues | undefined, inode = '59624'): LinkSample => ({ ...still, sockets: new Map([...still.sockets, [inode, queues]]) });

  it('a sample equal to the last one is no progress (a black-holed link)', () => {
    expect(linkMoved(still, { ...still, sockets: new Map(still.sockets) })).toBe(false);
  });

  it.each([
    ['a send queue that drains with nothing written (the tail of an upload)', withSocket({ ...socket, sendQueue: 2139136 - 166912 })],
    ["a peer's receive queue that drains (a proxy on this host reading)", withSocket({ ...socket, peer: { sendQueue: 0, receiveQueue: 96256 } })],
    ['a write', { ...still, written: 10487856 + 1 }],
    ['a response arriving', withSocket({ ...socket, receiveQueue: 512 })],
  ])('%s is progress', (_, after) => {
    expect(linkMoved(still, after)).toBe(true);
  });

  it.each([
    ['a connection opened (a SYN sent, perhaps into a black hole)', withSocket({ sendQueue: 0, receiveQueue: 0 }, '61000')],
    ['a connection closed', { ...still, sockets: new Map([['59604', undefined]]) }],
    ['a row missing from this reading of the table', withSocket(undefined)],
    ["the peer's row missing from this reading", withSocket({ sendQueue: socket.sendQueue, receiveQueue: socket.receiveQueue })],
  ])('%s is no evidence of progress', (_, after) => {
    expect(linkMoved(still, after)).toBe(false);
    expect(linkMoved(after, still)).toBe(false);
  });
});

describe('sampleLink', () => {
  it('reads a live process, and says undefined where /proc cannot tell', async () => {
    const sample = await sampleLink(process.pid);
    expect(sample).toBeDefined();
    expect(sample!.written).toBeGreaterThan(0);
    expect(await sampleLink(undefined)).toBeUndefined();
    // No process has a pid above the kernel's largest pid_max (2^22).
    expect(await sampleLink(2 ** 23)).toBeUndefined();
  });

  it("counts a process's TCP connection, and the bytes waiting at its peer on this host", async () => {
    // This process listens and reads nothing (pauseOnConnect); a child process connects and writes.
    const server = createServer({ pauseOnConnect: true }, () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const script = `const s = require('node:net').connect(${port}, '127.0.0.1', () => s.write(Buffer.alloc(1000), () => console.log('sent'))); process.stdin.resume();`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const tcpOf = (sample: LinkSample | undefined) => [...(sample?.sockets.values() ?? [])].filter((queues) => queues !== undefined);
      let sample: LinkSample | undefined;
      for (let i = 0; i < 250 && tcpOf(sample)[0]?.peer?.receiveQueue !== 1000; i++) {
        sample = await sampleLink(child.pid);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The child holds one TCP socket; the 1000 bytes it wrote wait at its peer, this process's socket.
      expect(tcpOf(sample)).toEqual([{ sendQueue: 0, receiveQueue: 0, peer: { sendQueue: 0, receiveQueue: 1000 } }]);
      expect(sample!.written).toBeGreaterThanOrEqual(1000);
    } finally {
      child.kill();
      server.close();
    }
  });
});
