/** The commented starter sync.yaml that `dualsync init` writes. Pure. */

/** Variables the starter's source credentials refer to; init tells the operator to set them. */
export const STARTER_VARIABLES = ['DUALSYNC_SOURCE_ACCESS_KEY_ID', 'DUALSYNC_SOURCE_SECRET_ACCESS_KEY'] as const;

/**
 * A starter config for the common case (a Snowball Edge source, an AWS destination), with every
 * field commented. `schemaRef` is the path or URL of sync.schema.json as seen from the file, so
 * that editors with yaml-language-server complete and check fields.
 */
export function starterConfig(schemaRef: string): string {
  return `# yaml-language-server: $schema=${schemaRef}
#
# dualsync moves objects in two hops: source bucket -> local staging volumes -> destination bucket.
# Edit the values below, then run \`dualsync validate\`. Every field is described in docs/config.md.
# Sizes take units (500GiB, 1.5TB), durations too (30s, 5m). Relative paths are relative to this file.
version: 1

source:
  # A Snowball Edge at the site. For an AWS or MinIO source, change region and endpoint.
  bucket: field-data
  prefix: ""                         # "" for the whole bucket; else no leading '/' and a trailing '/'
  region: snow                       # 'snow' for a Snowball Edge: ListObjects v1, at most 500 connections
  endpoint: https://192.0.2.10:8443  # the device's S3 adapter; a legacy device: http://192.0.2.10:8080
  tls:
    caBundle: ./snowball.pem         # snowballEdge get-certificate output; it changes with the device IP
  credentials:                       # secrets come from the environment, never from this file
    accessKeyId: \${${STARTER_VARIABLES[0]}}
    secretAccessKey: \${${STARTER_VARIABLES[1]}}

destination:
  bucket: archive
  prefix: site-7/
  region: us-east-1
  # No endpoint: AWS. No credentials: the default AWS chain (environment, ~/.aws, instance role).
  # credentials: { profile: archive-writer }

staging:
  volumes: ["/tmp/volume-*"]         # directories or globs; each matched directory is one volume
                                     # (\`dualsync volumes provision\` mounts disks at /tmp/volume-01, -02, ...)
  reserve: 5%                        # free space kept on every volume: a percentage or a size (20GiB)

stateDir: ./.dualsync                # id, ledger.db, lock, last-run.json, children/, spool/, reset's backup-*; keep it off the volumes

transfer:
  maxBatchBytes: 500GiB              # downloads per plan
  maxUploadBatchBytes: 500GiB        # uploads per plan
  workers: 100                       # parallel transfers per hop; workers x concurrency stays within
  concurrency: 5                     # a hop's maxConnections (a Snowball: 500); parallel parts per multipart transfer
  partSize: 50MiB                    # multipart part size, whole MiB from 5MiB to 5GiB
  verify: size                       # size | etag
  adopt: content                     # content | transfer | size: how an unproven same-size destination object is taken
  purgeAfterUpload: true             # delete the staged copy once the destination holds a verified copy
  stallTimeout: 2m                   # stop a hop that moved nothing for this long; its objects are retried
  include: ["**"]                    # globs over keys relative to source.prefix
  exclude: []
  # retryBackoff: { base: 30s, max: 6h }  # an object that fails again waits base, 2x, 4x... up to max (base: watch.interval)

watch:
  interval: 30s                      # pause between rounds of \`dualsync watch\`
`;
}
