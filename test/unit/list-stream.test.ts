import { describe, expect, it } from 'vitest';
import { decodeListedKey, parseListingBody, type ListedObject } from '../../src/inventory/list-stream.ts';

function collect(unordered = false): { objects: ListedObject[]; restarts: number; sink: { restart(): void; object(entry: ListedObject): void; unordered: boolean } } {
  const state = { objects: [] as ListedObject[], restarts: 0 };
  return {
    get objects() {
      return state.objects;
    },
    get restarts() {
      return state.restarts;
    },
    sink: {
      restart: () => {
        state.restarts++;
        state.objects = [];
      },
      object: (entry) => state.objects.push(entry),
      unordered,
    },
  };
}

/** The document cut into pieces of `size` bytes, so that characters and references straddle chunks. */
async function* inChunks(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const contents = (key: string, size: number, etag: string) =>
  `<Contents><Key>${key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>${etag}</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;

const answer = (body: string, extra = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>edge</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys>${extra}${body}</ListBucketResult>`;

describe('parseListingBody: a v1 answer read as a stream', () => {
  it('hands on every object with its key, size and ETag, and the paging fields', async () => {
    const { objects, sink } = collect();
    const xml = answer(contents('a.txt', 3, '&quot;900150983cd24fb0d6963f7d28e17f72&quot;') + contents('b/c.bin', 12, '"abc-2"'), '<IsTruncated>true</IsTruncated><NextMarker>b/c.bin</NextMarker>');
    const outcome = await parseListingBody(inChunks(xml, 64), sink);
    expect(outcome).toEqual({ page: { isTruncated: true, nextMarker: 'b/c.bin', nextContinuationToken: undefined, lastKey: 'b/c.bin', objects: 2, urlEncoded: false, undecodable: { count: 0 } } });
    expect(objects).toEqual([
      { key: 'a.txt', size: 3, etag: '"900150983cd24fb0d6963f7d28e17f72"' },
      { key: 'b/c.bin', size: 12, etag: '"abc-2"' },
    ]);
  });

  it('keeps keys byte-exact whatever the chunk size: entities, spaces at the ends, astral and NFD characters, U+0085 and U+2028', async () => {
    const keys = ['  both ends  ', 'a&b<c>"d\'e', 'emoji 😀/file', 'cafe\u0301 and café', 'line\u2028sep\u0085nel', 'tab\there'];
    const escaped = keys.map((key) => key.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\t/g, '&#9;'));
    const xml = answer(escaped.map((key, index) => contents(key, index, '"e"')).join(''), '<IsTruncated>false</IsTruncated>');
    for (const size of [1, 2, 3, 7, 4096]) {
      const { objects, sink } = collect();
      await parseListingBody(inChunks(xml, size), sink);
      expect(objects.map((object) => object.key), `chunks of ${size}`).toEqual(keys);
    }
  });

  it('reads control characters sent as character references that XML 1.0 forbids (S3 sends them so)', async () => {
    const xml = answer(contents('ctl&#x1;x&#27;y&#x7F;', 1, '"e"'), '<IsTruncated>false</IsTruncated>');
    for (const size of [1, 5, 4096]) {
      const { objects, sink } = collect();
      await parseListingBody(inChunks(xml, size), sink);
      expect(objects.map((object) => object.key)).toEqual(['ctl\u0001x\u001by\u007f']);
    }
  });

  it('an unpaginated answer (no IsTruncated) is the whole listing', async () => {
    const { objects, sink } = collect();
    const body = Array.from({ length: 2000 }, (_, index) => contents(`k${(1999 - index).toString().padStart(4, '0')}`, index, '"e"')).join('');
    const outcome = await parseListingBody(inChunks(answer(body), 1500), sink);
    expect(outcome).toEqual({ page: { isTruncated: false, nextMarker: undefined, nextContinuationToken: undefined, lastKey: 'k0000', objects: 2000, urlEncoded: false, undecodable: { count: 0 } } });
    expect(objects).toHaveLength(2000);
  });

  it('gives back an <Error> document sent with status 200 whole, for the SDK to classify', async () => {
    const { objects, sink } = collect();
    const error = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>';
    const outcome = await parseListingBody(inChunks(error, 10), sink);
    expect(outcome).toEqual({ other: Buffer.from(error, 'utf8') });
    expect(objects).toEqual([]);
  });

  it("reads a v2 page's continuation token, entities and all", async () => {
    const { objects, sink } = collect();
    const xml = answer(contents('x', 1, '"e"'), '<KeyCount>1</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>1a&amp;b/+=</NextContinuationToken>');
    const outcome = await parseListingBody(inChunks(xml, 9), sink);
    expect(outcome).toEqual({ page: { isTruncated: true, nextMarker: undefined, nextContinuationToken: '1a&b/+=', lastKey: 'x', objects: 1, urlEncoded: false, undecodable: { count: 0 } } });
    expect(objects).toHaveLength(1);
  });

  it('a document cut short is an error, never a shorter listing', async () => {
    const { sink } = collect();
    const xml = answer(contents('a', 1, '"e"') + contents('b', 1, '"e"'));
    await expect(parseListingBody(inChunks(xml.slice(0, xml.length - 40), 16), sink)).rejects.toThrow();
  });
});

describe('parseListingBody: URL-encoded answers (encoding-type=url)', () => {
  // As MinIO answers: the keys encoded, space as '+', a literal '+' as %2B, and <EncodingType> last.
  const encodedKeys = ['data/a%EF%BF%BF', 'data/a%EF%BF%BD', 'data/ctl%01x', 'data/sp+ace%2Bplus%25pct', 'plain/key'];
  const decodedKeys = ['data/a\uFFFF', 'data/a\uFFFD', 'data/ctl\u0001x', 'data/sp ace+plus%pct', 'plain/key'];

  it('decodes keys and NextMarker when the answer says <EncodingType>url</EncodingType>, even after the objects (MinIO)', async () => {
    const xml = answer(encodedKeys.map((key, index) => contents(key, index, '"e"')).join(''), '<NextMarker>data/sp+ace%2Bplus%25pct</NextMarker><IsTruncated>true</IsTruncated>').replace('</ListBucketResult>', '<EncodingType>url</EncodingType></ListBucketResult>');
    for (const size of [1, 7, 4096]) {
      const { objects, sink } = collect();
      const outcome = await parseListingBody(inChunks(xml, size), sink);
      expect(objects.map((object) => object.key), `chunks of ${size}`).toEqual(decodedKeys);
      expect(outcome).toEqual({ page: { isTruncated: true, nextMarker: 'data/sp ace+plus%pct', nextContinuationToken: undefined, lastKey: 'plain/key', objects: 5, urlEncoded: true, undecodable: { count: 0 } } });
    }
  });

  it('decodes at once when <EncodingType> comes before the objects (AWS)', async () => {
    const xml = answer(encodedKeys.map((key, index) => contents(key, index, '"e"')).join(''), '<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>');
    const { objects, sink } = collect();
    await parseListingBody(inChunks(xml, 4096), sink);
    expect(objects.map((object) => object.key)).toEqual(decodedKeys);
  });

  it('a server that ignored the parameter (no <EncodingType>): keys with % and + are kept exactly as listed', async () => {
    const raw = ['a%41', 'b+c', 'd%2B', 'e%zz', 'plain'];
    const xml = answer(raw.map((key, index) => contents(key, index, '"e"')).join(''), '<IsTruncated>true</IsTruncated><NextMarker>a%41</NextMarker>');
    const { objects, sink } = collect();
    const outcome = await parseListingBody(inChunks(xml, 3), sink);
    expect(objects.map((object) => object.key)).toEqual(raw);
    expect(outcome).toMatchObject({ page: { nextMarker: 'a%41', lastKey: 'plain', urlEncoded: false } });
  });

  it('keeps the answer order for an ordered sink; an unordered sink gets keys that read the same either way at once', async () => {
    const raw = ['a', 'b%41', 'c', 'd'];
    const xml = answer(raw.map((key, index) => contents(key, index, '"e"')).join('') + '<EncodingType>url</EncodingType>', '<IsTruncated>false</IsTruncated>');
    const ordered = collect();
    await parseListingBody(inChunks(xml, 4096), ordered.sink);
    expect(ordered.objects.map((object) => object.key)).toEqual(['a', 'bA', 'c', 'd']);
    const unordered = collect(true);
    await parseListingBody(inChunks(xml, 4096), unordered.sink);
    expect(unordered.objects.map((object) => object.key)).toEqual(['a', 'c', 'd', 'bA']);
  });

  it('a key that does not decode to UTF-8 is left out and counted, never handed on mangled', async () => {
    const xml = answer(['ok', 'bad%FF', 'lone%ED%A0%80', 'also-ok'].map((key, index) => contents(key, index, '"e"')).join('') + '<EncodingType>url</EncodingType>', '<IsTruncated>false</IsTruncated>');
    const { objects, sink } = collect();
    const outcome = await parseListingBody(inChunks(xml, 4096), sink);
    expect(objects.map((object) => object.key)).toEqual(['ok', 'also-ok']);
    expect(outcome).toMatchObject({ page: { objects: 2, undecodable: { count: 2, first: 'bad%FF' } } });
  });

  it('decodeListedKey: + is a space, %2B a plus; malformed input is undefined', () => {
    expect(decodeListedKey('a+b%2Bc%20d')).toBe('a b+c d');
    expect(decodeListedKey('%F0%9F%98%80')).toBe('\u{1F600}');
    expect(decodeListedKey('%')).toBeUndefined();
    expect(decodeListedKey('%C3')).toBeUndefined();
  });
});
