import { describe, expect, it } from 'vitest';
import { classifyS3Error } from '../../src/inventory/s3.ts';
import type { HopConfig } from '../../src/model/config.ts';

const HOP: HopConfig = {
  bucket: 'field-data',
  prefix: 'sensors/',
  region: 'snow',
  endpoint: 'https://192.0.2.10:8443',
  addressing: 'path',
  tls: { verify: true, caBundle: '/etc/dualsync/snowball.pem' },
  listApi: 'v1',
  credentials: { kind: 'default' },
};

describe('classifyS3Error on a certificate the hop does not trust', () => {
  it("drops Node's --use-system-ca advice and keeps the device-certificate hint", () => {
    const error = Object.assign(new Error('self-signed certificate in certificate chain; if the root CA is installed locally, try running Node.js with --use-system-ca'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    const classified = classifyS3Error(error, HOP, 'listing');
    expect(classified.code).toBe('E_S3_TLS');
    expect(classified.message).toBe('listing s3://field-data/sensors/ (https://192.0.2.10:8443) failed: Error: self-signed certificate in certificate chain');
    expect(classified.message).not.toContain('use-system-ca');
    expect(classified.hint).toContain('snowballEdge get-certificate');
  });
});
