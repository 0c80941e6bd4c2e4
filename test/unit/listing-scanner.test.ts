import { describe, expect, it } from 'vitest';
import { parseListingBody, type ListedObject, type ListedPage } from '../../src/inventory/list-stream.ts';
import { decodeXmlText } from '../../src/inventory/listing-scanner.ts';
import { readCorpus } from '../harness/key-corpus.ts';

const corpusKeys = [...readCorpus('hostile.json'), ...readCorpus('hostile-extra.json')].map((item) => item.key);

/** Escaped as Go's encoding/xml does (MinIO), characters XML cannot carry as references (as S3 sends them). */
function xmlEscaped(text: string): string {
  let out = '';
  for (const character of text) {
    const code = character.codePointAt(0) as number;
    if (character === '&') out += '&amp;';
    else if (character === '<') out += '&lt;';
    else if (character === '>') out += '&gt;';
    else if (character === '"') out += '&#34;';
    else if (character === "'") out += '&#39;';
    else if (code < 0x20 || code === 0xfffe || code === 0xffff || (code >= 0xd800 && code <= 0xdfff)) out += `&#x${code.toString(16).toUpperCase()};`;
    else out += character;
  }
  return out;
}

/** As S3 and MinIO encode a key for `encoding-type=url`: a space is `+`. */
const urlEncoded = (key: string): string => encodeURIComponent(key).replaceAll('%20', '+');

const contents = (key: string, size: number) =>
  `<Contents><Key>${key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&#34;9001${size}&#34;</ETag><Size>${size}</Size><Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

function page(keys: string[], escape: (key: string) => string, encodingType: boolean): string {
  const body = keys.map((key, index) => contents(escape(key), index)).join('');
  const encoding = encodingType ? '<EncodingType>url</EncodingType>' : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>edge</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${body}${encoding}</ListBucketResult>`;
}

interface Parsed {
  objects: ListedObject[];
  outcome: { page: ListedPage } | { other: Buffer };
}

async function parse(chunks: Buffer[], fullParser = false): Promise<Parsed> {
  const objects: ListedObject[] = [];
  const sink = { restart: () => (objects.length = 0), object: (entry: ListedObject) => void objects.push(entry) };
  async function* body(): AsyncGenerator<Buffer> {
    for (const chunk of chunks) yield chunk;
  }
  const outcome = await parseListingBody(body(), sink, { fullParser });
  return { objects, outcome };
}

/** The document cut at `at` (a split anywhere: in a tag, an entity, a multi-byte character). */
const splitAt = (bytes: Buffer, at: number): Buffer[] => [bytes.subarray(0, at), bytes.subarray(at)];
const inChunks = (bytes: Buffer, size: number): Buffer[] => {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
};

/** What the full parser makes of it, or its failure. */
async function reference(bytes: Buffer): Promise<Parsed | Error> {
  return parse([bytes], true).catch((error: unknown) => error as Error);
}

describe('the listing scanner reads every key as the full XML parser does', () => {
  for (const [name, escape, encodingType] of [
    ['XML-escaped (no encoding-type)', xmlEscaped, false],
    ['URL-encoded (encoding-type=url)', urlEncoded, true],
  ] as const) {
    it(`every key of the hostile corpora, ${name}: the whole page in chunks of 1 to 17 bytes, and each key's page split at every byte offset`, async () => {
      const bytes = Buffer.from(page(corpusKeys, escape, encodingType), 'utf8');
      const expected = await parse([bytes], true);
      expect(expected.objects.map((object) => object.key)).toEqual(corpusKeys);
      expect(expected.objects[3]).toMatchObject({ size: 3, etag: '"90013"' });
      for (let size = 1; size <= 17; size++) expect(await parse(inChunks(bytes, size)), `chunks of ${size}`).toEqual(expected);
      // Every offset of a page of a few keys; of each key's own page, every offset around its <Contents>.
      const few = Buffer.from(page(corpusKeys.slice(0, 6), escape, encodingType), 'utf8');
      const fewParsed = JSON.stringify(await parse([few], true));
      for (let at = 0; at <= few.length; at++) {
        const split = await parse(splitAt(few, at));
        if (JSON.stringify(split) !== fewParsed) expect(split, `split at byte ${at}`).toEqual(JSON.parse(fewParsed));
      }
      for (const key of corpusKeys) {
        const one = Buffer.from(page([key, 'next'], escape, encodingType), 'utf8');
        const wanted = JSON.stringify(await parse([one], true));
        const from = one.indexOf('<Contents>') - 16;
        for (let at = from; at <= one.indexOf('</Contents>') + 16; at++) {
          const split = await parse(splitAt(one, at));
          if (JSON.stringify(split) !== wanted) expect(split, `${JSON.stringify(key)} split at byte ${at}`).toEqual(JSON.parse(wanted));
        }
      }
    });
  }

  it('decodes the five entities and decimal and hex references, astral ones included, and normalises line ends', async () => {
    const key = 'a&amp;b&lt;c&gt;d&quot;e&apos;f&#13;g&#x1F;h&#128512;i&#x1f600;j&#9;k\r\nl\rm';
    const bytes = Buffer.from(page(['placeholder'], () => key, false), 'utf8');
    for (let at = 0; at <= bytes.length; at++) {
      const parsed = await parse(splitAt(bytes, at));
      expect(parsed.objects.map((object) => object.key)).toEqual(['a&b<c>d"e\'f\rg\u001fh😀i😀j\tk\nl\nm']);
    }
    expect(await parse([bytes])).toEqual(await parse([bytes], true));
  });

  it('an answer cut short anywhere is an error, never a shorter listing (invariant 8)', async () => {
    const bytes = Buffer.from(page(['a', 'b c', 'd&e'], xmlEscaped, false), 'utf8');
    // Every cut before the root's close tag is whole: cut there, the answer is incomplete.
    const whole = bytes.length;
    for (let cut = 0; cut < whole; cut++) {
      await expect(parse(splitAt(bytes.subarray(0, cut), Math.floor(cut / 2))), `cut after ${cut} bytes`).rejects.toThrow();
    }
    await expect(parse([bytes])).resolves.toMatchObject({ outcome: { page: { objects: 3 } } });
  });

  it('hands what it does not know to the full parser, mid-answer, with the same result: comments, CDATA, a doctype, errors', async () => {
    const documents = [
      page(['a', 'b'], (key) => (key === 'b' ? '<![CDATA[b<&>]]>' : key), false),
      page(['a', 'b'], xmlEscaped, false).replace('</Contents><Contents>', '</Contents><!-- a comment --><Contents>'),
      page(['a'], xmlEscaped, false).replace('</ListBucketResult>', '</ListBucketResult><!-- after the root -->'),
      page(['a'], xmlEscaped, false).replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE ListBucketResult>'),
      page(['a&nbsp;b'], (key) => key, false),
      page(['nul&#0;'], (key) => key, false),
      page(['far&#x110000;'], (key) => key, false),
      page(['literal\u0001control'], (key) => key, false),
      page(['a'], xmlEscaped, false).replace('</Key>', '</Kez>'),
      page(['a'], xmlEscaped, false).replace('</ListBucketResult>', '</ListBucketResult><Second/>'),
      page(['a'], xmlEscaped, false).replace('<Size>0</Size>', '<Size attr="a>b">0</Size>'),
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>',
      '',
    ];
    for (const document of documents) {
      const bytes = Buffer.from(document, 'utf8');
      const expected = await reference(bytes);
      for (const size of [1, 3, 7, 64, bytes.length + 1]) {
        const scanned = await parse(inChunks(bytes, size)).catch((error: unknown) => error as Error);
        if (expected instanceof Error) expect(scanned, `${document} in chunks of ${size}`).toBeInstanceOf(Error);
        else expect(scanned, `${document} in chunks of ${size}`).toEqual(expected);
      }
    }
  });

  it('decodeXmlText leaves to the full parser what it cannot judge', () => {
    expect(decodeXmlText('plain')).toBe('plain');
    expect(decodeXmlText('&#34;abc&#34;')).toBe('"abc"');
    expect(decodeXmlText('a&unknown;')).toBeUndefined();
    expect(decodeXmlText('a&amp')).toBeUndefined();
    expect(decodeXmlText('a&#xZZ;')).toBeUndefined();
    expect(decodeXmlText('a\u0002')).toBeUndefined();
  });
});
