/**
 * The keys of transfer_v5's config.yaml that import-legacy reads, apart from the conversion
 * (legacy.ts): `import-legacy --help` lists them, and loading the list must not load the YAML
 * parser and the config checks with it.
 */
export type LegacyField =
  | 'sourceBucket'
  | 'sourcePrefix'
  | 'sourceRegion'
  | 'sourceAccessKey'
  | 'sourceSecretKey'
  | 'sourceEndpoint'
  | 'intermediaryDirectory'
  | 'destinationBucket'
  | 'destinationPrefix'
  | 'destinationRegion'
  | 'destinationAccessKey'
  | 'destinationSecretKey'
  | 'destinationEndpoint'
  | 'maxSourceToLocalBytes'
  | 'maxLocalToDestinationGb';

/**
 * Accepted spellings, after normalisation: lower case, every run of other characters becomes `_`,
 * and the words src/dest/dst become source/destination. So `src_bucket_name`, `Source Bucket Name`
 * and `source-bucket-name` are one key.
 */
export const LEGACY_KEYS: Record<LegacyField, readonly string[]> = {
  sourceBucket: ['source_bucket_name', 'source_bucket'],
  sourcePrefix: ['source_bucket_prefix', 'source_prefix'],
  sourceRegion: ['source_region', 'source_bucket_region'],
  sourceAccessKey: ['source_access_key', 'source_access_key_id'],
  sourceSecretKey: ['source_secret_access_key', 'source_secret_key'],
  sourceEndpoint: ['source_endpoint_url', 'source_endpoint'],
  intermediaryDirectory: ['intermediary_directory', 'intermediary_dir', 'intermediate_directory', 'local_directory'],
  destinationBucket: ['destination_bucket_name', 'destination_bucket'],
  destinationPrefix: ['destination_bucket_prefix', 'destination_prefix'],
  destinationRegion: ['destination_region', 'destination_bucket_region'],
  destinationAccessKey: ['destination_access_key', 'destination_access_key_id'],
  destinationSecretKey: ['destination_secret_access_key', 'destination_secret_key'],
  destinationEndpoint: ['destination_endpoint_url', 'destination_endpoint'],
  maxSourceToLocalBytes: ['max_transfer_size_source_to_local', 'max_transfer_size_source_local', 'max_transfer_size_source_to_local_bytes'],
  maxLocalToDestinationGb: ['max_transfer_size_local_to_destination', 'max_transfer_size_local_destination', 'max_transfer_size_local_to_destination_gb'],
};
