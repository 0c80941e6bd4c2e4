/* eslint-disable */
// Generated from schemas/sync.schema.json by `npm run config:validator` (scripts/gen-config-validator.ts): do not edit.
// @ts-nocheck
/*
 * Over 400 lines: Ajv writes the validator of the whole schema as one module; edit the schema, not this file.
 */
import * as ucs2lengthModule from "ajv/dist/runtime/ucs2length.js";
const helperOf = (module) => (typeof module.default === "function" ? module.default : module.default.default);
"use strict";
export const validate = validate10;
export default validate10;
const schema11 = {"$schema":"http://json-schema.org/draft-07/schema#","title":"dualsync configuration (sync.yaml)","description":"Where dualsync moves data from (source), where it stages it (staging volumes), where it delivers it (destination), and how.","type":"object","additionalProperties":false,"required":["version","source","destination","staging"],"properties":{"version":{"description":"Version of this file's format. Only 1 exists.","const":1},"source":{"$ref":"#/definitions/hop","description":"The bucket dualsync downloads from: typically a Snowball Edge at the site, or any S3-compatible bucket."},"destination":{"$ref":"#/definitions/hop","description":"The bucket dualsync delivers to, typically in AWS."},"staging":{"description":"Local volumes that hold objects between the two hops.","type":"object","additionalProperties":false,"required":["volumes"],"properties":{"volumes":{"description":"Staging directories, or globs that match directories (`/mnt/volume-*`). Each matched directory is one volume; downloads are spread across volumes so that their disks work in parallel. Relative entries are resolved against the config file's folder. Every entry must match at least one existing directory. A volume serves one state directory: the first apply claims it, and other configs refuse it until `dualsync volumes release` or `dualsync reset` hands it over.","type":"array","minItems":1,"items":{"type":"string","minLength":1}},"reserve":{"$ref":"#/definitions/reserve","description":"Space kept free on every volume: a percentage of the volume's size (`5%`, 0 to 99) or a size (`20GiB`).","default":"5%"}}},"stateDir":{"description":"Directory of dualsync's own state for this config: `id` (the directory's identity, named in the claims of its staging volumes), the ledger `ledger.db` (with SQLite's `ledger.db-wal` and `ledger.db-shm`, and `ledger.db-high-water`, the last committed serial), `lock` (the run that holds it) and `lock.takeover` (an empty file: the guard under which runs recover a dead run's lock one at a time), `last-run.json` (how the last run ended), `children/` (the s5cmd processes a run started), `spool/` (a plan's actions on their way to disk) and the `backup-*` folders that `dualsync reset` leaves. Saved plans go where `plan --out` writes them; output goes to the terminal. Relative paths are resolved against the config file's folder. Must not be inside a staging volume (compared by real path, links resolved), must not hold one, and must not be a folder that a volume glob would match once it exists. The volumes this directory's runs use are claimed for it (`.dualsync-volume` in each volume root).","type":"string","minLength":1,"default":"./.dualsync"},"transfer":{"description":"Budgets and behaviour of each plan and apply.","type":"object","additionalProperties":false,"properties":{"maxBatchBytes":{"$ref":"#/definitions/size","description":"Most bytes one plan downloads from the source (greater than 0). Each filesystem also receives at most its free space minus the largest reserve of its volumes (volumes on one filesystem share it).","default":"500GiB"},"maxUploadBatchBytes":{"$ref":"#/definitions/size","description":"Most bytes one plan uploads to the destination (greater than 0).","default":"500GiB"},"workers":{"description":"Parallel transfers per hop (s5cmd --numworkers). A hop's maxConnections caps workers x concurrency.","type":"integer","minimum":1,"maximum":4096,"default":256},"concurrency":{"description":"Parallel parts per multipart transfer (s5cmd cp --concurrency).","type":"integer","minimum":1,"maximum":64,"default":5},"partSize":{"$ref":"#/definitions/size","description":"Multipart part size (s5cmd cp --part-size): a whole number of MiB from 5MiB to 5GiB. With `verify: etag` it is also the part size used to compute multipart ETags.","default":"50MiB"},"verify":{"description":"How a transfer is proven: `size` compares sizes at every hop; `etag` also compares the local MD5 (or multipart ETag) with the source and destination ETags where they are comparable.","enum":["size","etag"],"default":"size"},"adopt":{"description":"When the destination already holds an object of the source's size that the ledger did not deliver (a fresh ledger, after `reset`) and the ETags cannot prove it is the same version (multipart, Snowball or mixed ETags): `content` streams both objects and compares their MD5s before recording it as delivered (reads, never writes; a destination in AWS bills the read as egress); `transfer` moves it again without reading; `size` adopts it on size alone, the old behaviour: a same-size object with other bytes is then never moved. `size` also lets a local copy the ledger does not know be uploaded on its size when the source ETag cannot prove it. Equal MD5 or multipart ETags adopt under every choice, and a version the ledger knows was delivered from another source version always moves again.","enum":["content","transfer","size"],"default":"content"},"purgeAfterUpload":{"description":"Delete the staged copy once the destination holds a verified copy of that version. The only deletion dualsync ever makes.","type":"boolean","default":true},"stallTimeout":{"$ref":"#/definitions/duration","description":"Stop a hop's s5cmd when its link has moved nothing and it has finished no object for this long (s5cmd has no short idle timeout of its own). Moving means what the link carries: s5cmd writing, or the queues of its TCP connections changing (an upload's last megabytes drain from the socket buffers with nothing written), so a slow link that still moves is never stopped. The objects it had in flight fail with that reason and the next run does them again; the rest of the plan goes on.","default":"2m"},"include":{"description":"Globs over relative keys (the source key minus the source prefix); only matching objects move.","type":"array","items":{"$ref":"#/definitions/glob"},"default":["**"]},"exclude":{"description":"Globs over relative keys; matching objects never move, even when they match `include`.","type":"array","items":{"$ref":"#/definitions/glob"},"default":[]},"retryBackoff":{"description":"How an object that keeps failing backs off: the next run retries a first failure at once; after its n-th failure in a row (n of 2 or more) it is tried again no sooner than `base` x 2^(n-2) later (1 interval, 2, 4, ...), at most `max` later. Waiting objects are left out of plans until then; `--retry-failed` on plan, apply or watch tries them at once. A failure counts until the object's version moves forward.","type":"object","additionalProperties":false,"properties":{"base":{"$ref":"#/definitions/duration","description":"The wait after the second failure in a row (greater than 0); each further failure doubles it. Without it, `watch.interval` (or `watch --interval`): one cycle of watch."},"max":{"$ref":"#/definitions/duration","description":"The longest wait between two tries of one object (greater than 0).","default":"6h"}}}}},"watch":{"description":"Settings of `dualsync watch`.","type":"object","additionalProperties":false,"properties":{"interval":{"$ref":"#/definitions/duration","description":"Pause between two rounds of plan and apply.","default":"30s"}}}},"definitions":{"hop":{"description":"One side of the transfer: a bucket, where it lives and how to reach it.","type":"object","additionalProperties":false,"required":["bucket","region"],"properties":{"bucket":{"$ref":"#/definitions/bucketName","description":"Bucket name (3 to 63 characters: lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit). For S3 on Outposts: the access point ARN `arn:aws:s3-outposts:REGION:ACCOUNT:outpost/OUTPOST-ID/accesspoint/NAME` (no `endpoint`, virtual-host addressing only, `region` equal to the ARN's unless `useArnRegion` is true; docs/outposts.md)."},"prefix":{"description":"Key prefix inside the bucket: no leading `/`, and a trailing `/` (or \"\" for the whole bucket). Relative keys are the keys minus this prefix.","type":"string","default":""},"region":{"description":"Region of the bucket, such as `us-east-1`; `snow` for a Snowball Edge.","type":"string","minLength":1},"useArnRegion":{"description":"S3 on Outposts only: sign for the region in the access point ARN when it differs from `region`. Without it such a difference is a config error.","type":"boolean","default":false},"endpoint":{"$ref":"#/definitions/url","description":"Endpoint URL of an S3-compatible server; omit it for AWS. Snowball Edge: `https://DEVICE-IP:8443` (or `http://DEVICE-IP:8080` on a legacy device)."},"addressing":{"description":"Bucket addressing: `path` (endpoint/bucket/key) or `virtual` (bucket.endpoint/key). Default: `path` when an endpoint is set, else `virtual`.","enum":["path","virtual"]},"tls":{"description":"TLS settings for an HTTPS endpoint.","type":"object","additionalProperties":false,"properties":{"verify":{"description":"Verify the server's certificate. Turn it off only on a closed network.","type":"boolean","default":true},"caBundle":{"description":"PEM file of extra trusted certificates, such as a Snowball Edge's `snowballEdge get-certificate` output (it changes with the device's IP). Relative to the config file's folder.","type":"string","minLength":1}}},"proxy":{"$ref":"#/definitions/url","description":"HTTP(S) proxy URL for this hop only."},"listApi":{"description":"Listing call: `v1` (ListObjects, the only one a Snowball Edge's S3 adapter supports fully) or `v2` (ListObjectsV2). Default: `v1` when region is `snow`, else `v2`.","enum":["v1","v2"]},"maxConnections":{"description":"Cap on workers x concurrency for this hop (a Snowball Edge drops connections beyond 1,000). Default: 500 when region is `snow`, else no cap.","type":"integer","minimum":1},"bandwidth":{"description":"How fast apply hands this hop's objects to s5cmd: `off`, a rate such as `10MiB/s`, or a weekly timetable in local time, entries `[DAYS,]HH:MM,RATE` separated by spaces, such as `\"Mon-Fri,08:00,2MiB/s 18:00,off\"`. DAYS is `Mon` ... `Sun`, a range (`Mon-Fri`, `Fri-Mon` wraps) or a comma list; no DAYS means every day. Each entry holds from its time until the next entry of the week, across midnight. An average over time for objects much smaller than rate x 30 s; one larger object goes at link speed (docs/operations.md).","type":"string","minLength":1,"default":"off"},"credentials":{"$ref":"#/definitions/credentials","description":"How this hop authenticates. Omit it to use the default AWS credential chain (environment, shared files, instance role)."}}},"credentials":{"description":"Either static keys (`accessKeyId` + `secretAccessKey`, optionally `sessionToken`) or a `profile` of the shared AWS files. Write secrets as `${ENV_VAR}` references; inline secrets work but are warned about.","type":"object","additionalProperties":false,"properties":{"accessKeyId":{"description":"Access key id, usually `${SOME_ENV_VAR}`.","type":"string","minLength":1},"secretAccessKey":{"description":"Secret access key, usually `${SOME_ENV_VAR}`.","type":"string","minLength":1},"sessionToken":{"description":"Session token of temporary credentials, usually `${SOME_ENV_VAR}`.","type":"string","minLength":1},"profile":{"description":"Profile name in the shared AWS config and credentials files. Excludes the static keys.","type":"string","minLength":1}},"if":{"required":["profile"]},"then":{"properties":{"accessKeyId":false,"secretAccessKey":false,"sessionToken":false}},"else":{"required":["accessKeyId","secretAccessKey"]}},"bucketName":{"description":"An S3 bucket name (3 to 63 characters of lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit), or an S3 on Outposts access point ARN (`arn:aws:s3-outposts:...`).","type":"string","anyOf":[{"minLength":3,"maxLength":63,"pattern":"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"},{"maxLength":300,"pattern":"^arn:"}]},"url":{"description":"An `http://` or `https://` URL: scheme, host and optional port, such as `https://192.0.2.10:8443`.","type":"string","pattern":"^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$"},"size":{"description":"A byte count (`1048576`) or a number with a unit: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), in any case and with an optional space: `500GiB`, `1.5TB`, `50 MiB`.","anyOf":[{"type":"integer","minimum":0},{"type":"string","pattern":"^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"}]},"reserve":{"description":"A percentage of the volume (`5%`, 0 to 99) or a size (`20GiB`).","anyOf":[{"$ref":"#/definitions/size"},{"type":"string","pattern":"^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$"}]},"duration":{"description":"A number with a unit, `ms`, `s`, `m`, `h` or `d`, or several in a row: `500ms`, `30s`, `5m`, `1h30m`.","type":"string","pattern":"^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"},"glob":{"description":"A glob over relative keys, matching the whole key: `*` and `?` stay inside one path segment, `**` crosses segments, `[a-z]` and `[!a]` are classes, and a pattern ending in `/` means everything below that folder. Example: `**/*.csv`.","type":"string","minLength":1}}};
const schema18 = {"description":"A byte count (`1048576`) or a number with a unit: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), in any case and with an optional space: `500GiB`, `1.5TB`, `50 MiB`.","anyOf":[{"type":"integer","minimum":0},{"type":"string","pattern":"^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"}]};
const schema22 = {"description":"A number with a unit, `ms`, `s`, `m`, `h` or `d`, or several in a row: `500ms`, `30s`, `5m`, `1h30m`.","type":"string","pattern":"^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"};
const schema23 = {"description":"A glob over relative keys, matching the whole key: `*` and `?` stay inside one path segment, `**` crosses segments, `[a-z]` and `[!a]` are classes, and a pattern ending in `/` means everything below that folder. Example: `**/*.csv`.","type":"string","minLength":1};
const schema12 = {"description":"One side of the transfer: a bucket, where it lives and how to reach it.","type":"object","additionalProperties":false,"required":["bucket","region"],"properties":{"bucket":{"$ref":"#/definitions/bucketName","description":"Bucket name (3 to 63 characters: lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit). For S3 on Outposts: the access point ARN `arn:aws:s3-outposts:REGION:ACCOUNT:outpost/OUTPOST-ID/accesspoint/NAME` (no `endpoint`, virtual-host addressing only, `region` equal to the ARN's unless `useArnRegion` is true; docs/outposts.md)."},"prefix":{"description":"Key prefix inside the bucket: no leading `/`, and a trailing `/` (or \"\" for the whole bucket). Relative keys are the keys minus this prefix.","type":"string","default":""},"region":{"description":"Region of the bucket, such as `us-east-1`; `snow` for a Snowball Edge.","type":"string","minLength":1},"useArnRegion":{"description":"S3 on Outposts only: sign for the region in the access point ARN when it differs from `region`. Without it such a difference is a config error.","type":"boolean","default":false},"endpoint":{"$ref":"#/definitions/url","description":"Endpoint URL of an S3-compatible server; omit it for AWS. Snowball Edge: `https://DEVICE-IP:8443` (or `http://DEVICE-IP:8080` on a legacy device)."},"addressing":{"description":"Bucket addressing: `path` (endpoint/bucket/key) or `virtual` (bucket.endpoint/key). Default: `path` when an endpoint is set, else `virtual`.","enum":["path","virtual"]},"tls":{"description":"TLS settings for an HTTPS endpoint.","type":"object","additionalProperties":false,"properties":{"verify":{"description":"Verify the server's certificate. Turn it off only on a closed network.","type":"boolean","default":true},"caBundle":{"description":"PEM file of extra trusted certificates, such as a Snowball Edge's `snowballEdge get-certificate` output (it changes with the device's IP). Relative to the config file's folder.","type":"string","minLength":1}}},"proxy":{"$ref":"#/definitions/url","description":"HTTP(S) proxy URL for this hop only."},"listApi":{"description":"Listing call: `v1` (ListObjects, the only one a Snowball Edge's S3 adapter supports fully) or `v2` (ListObjectsV2). Default: `v1` when region is `snow`, else `v2`.","enum":["v1","v2"]},"maxConnections":{"description":"Cap on workers x concurrency for this hop (a Snowball Edge drops connections beyond 1,000). Default: 500 when region is `snow`, else no cap.","type":"integer","minimum":1},"bandwidth":{"description":"How fast apply hands this hop's objects to s5cmd: `off`, a rate such as `10MiB/s`, or a weekly timetable in local time, entries `[DAYS,]HH:MM,RATE` separated by spaces, such as `\"Mon-Fri,08:00,2MiB/s 18:00,off\"`. DAYS is `Mon` ... `Sun`, a range (`Mon-Fri`, `Fri-Mon` wraps) or a comma list; no DAYS means every day. Each entry holds from its time until the next entry of the week, across midnight. An average over time for objects much smaller than rate x 30 s; one larger object goes at link speed (docs/operations.md).","type":"string","minLength":1,"default":"off"},"credentials":{"$ref":"#/definitions/credentials","description":"How this hop authenticates. Omit it to use the default AWS credential chain (environment, shared files, instance role)."}}};
const schema13 = {"description":"An S3 bucket name (3 to 63 characters of lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit), or an S3 on Outposts access point ARN (`arn:aws:s3-outposts:...`).","type":"string","anyOf":[{"minLength":3,"maxLength":63,"pattern":"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"},{"maxLength":300,"pattern":"^arn:"}]};
const schema14 = {"description":"An `http://` or `https://` URL: scheme, host and optional port, such as `https://192.0.2.10:8443`.","type":"string","pattern":"^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$"};
const schema16 = {"description":"Either static keys (`accessKeyId` + `secretAccessKey`, optionally `sessionToken`) or a `profile` of the shared AWS files. Write secrets as `${ENV_VAR}` references; inline secrets work but are warned about.","type":"object","additionalProperties":false,"properties":{"accessKeyId":{"description":"Access key id, usually `${SOME_ENV_VAR}`.","type":"string","minLength":1},"secretAccessKey":{"description":"Secret access key, usually `${SOME_ENV_VAR}`.","type":"string","minLength":1},"sessionToken":{"description":"Session token of temporary credentials, usually `${SOME_ENV_VAR}`.","type":"string","minLength":1},"profile":{"description":"Profile name in the shared AWS config and credentials files. Excludes the static keys.","type":"string","minLength":1}},"if":{"required":["profile"]},"then":{"properties":{"accessKeyId":false,"secretAccessKey":false,"sessionToken":false}},"else":{"required":["accessKeyId","secretAccessKey"]}};
const func2 = Object.prototype.hasOwnProperty;
const func3 = helperOf(ucs2lengthModule);
const pattern0 = new RegExp("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", "u");
const pattern1 = new RegExp("^arn:", "u");
const pattern2 = new RegExp("^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$", "u");

function validate11(data, {instancePath="", parentData, parentDataProperty, rootData=data}={}){
let vErrors = null;
let errors = 0;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.bucket === undefined){
const err0 = {instancePath,schemaPath:"#/required",keyword:"required",params:{missingProperty: "bucket"},message:"must have required property '"+"bucket"+"'"};
if(vErrors === null){
vErrors = [err0];
}
else {
vErrors.push(err0);
}
errors++;
}
if(data.region === undefined){
const err1 = {instancePath,schemaPath:"#/required",keyword:"required",params:{missingProperty: "region"},message:"must have required property '"+"region"+"'"};
if(vErrors === null){
vErrors = [err1];
}
else {
vErrors.push(err1);
}
errors++;
}
for(const key0 in data){
if(!(func2.call(schema12.properties, key0))){
const err2 = {instancePath,schemaPath:"#/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key0},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err2];
}
else {
vErrors.push(err2);
}
errors++;
}
}
if(data.bucket !== undefined){
let data0 = data.bucket;
if(typeof data0 !== "string"){
const err3 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err3];
}
else {
vErrors.push(err3);
}
errors++;
}
const _errs5 = errors;
let valid2 = false;
const _errs6 = errors;
if(typeof data0 === "string"){
if(func3(data0) > 63){
const err4 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/anyOf/0/maxLength",keyword:"maxLength",params:{limit: 63},message:"must NOT have more than 63 characters"};
if(vErrors === null){
vErrors = [err4];
}
else {
vErrors.push(err4);
}
errors++;
}
if(func3(data0) < 3){
const err5 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/anyOf/0/minLength",keyword:"minLength",params:{limit: 3},message:"must NOT have fewer than 3 characters"};
if(vErrors === null){
vErrors = [err5];
}
else {
vErrors.push(err5);
}
errors++;
}
if(!pattern0.test(data0)){
const err6 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/anyOf/0/pattern",keyword:"pattern",params:{pattern: "^[a-z0-9][a-z0-9.-]*[a-z0-9]$"},message:"must match pattern \""+"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"+"\""};
if(vErrors === null){
vErrors = [err6];
}
else {
vErrors.push(err6);
}
errors++;
}
}
var _valid0 = _errs6 === errors;
valid2 = valid2 || _valid0;
if(!valid2){
const _errs7 = errors;
if(typeof data0 === "string"){
if(func3(data0) > 300){
const err7 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/anyOf/1/maxLength",keyword:"maxLength",params:{limit: 300},message:"must NOT have more than 300 characters"};
if(vErrors === null){
vErrors = [err7];
}
else {
vErrors.push(err7);
}
errors++;
}
if(!pattern1.test(data0)){
const err8 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/anyOf/1/pattern",keyword:"pattern",params:{pattern: "^arn:"},message:"must match pattern \""+"^arn:"+"\""};
if(vErrors === null){
vErrors = [err8];
}
else {
vErrors.push(err8);
}
errors++;
}
}
var _valid0 = _errs7 === errors;
valid2 = valid2 || _valid0;
}
if(!valid2){
const err9 = {instancePath:instancePath+"/bucket",schemaPath:"#/definitions/bucketName/anyOf",keyword:"anyOf",params:{},message:"must match a schema in anyOf"};
if(vErrors === null){
vErrors = [err9];
}
else {
vErrors.push(err9);
}
errors++;
}
else {
errors = _errs5;
if(vErrors !== null){
if(_errs5){
vErrors.length = _errs5;
}
else {
vErrors = null;
}
}
}
}
if(data.prefix !== undefined){
if(typeof data.prefix !== "string"){
const err10 = {instancePath:instancePath+"/prefix",schemaPath:"#/properties/prefix/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err10];
}
else {
vErrors.push(err10);
}
errors++;
}
}
if(data.region !== undefined){
let data2 = data.region;
if(typeof data2 === "string"){
if(func3(data2) < 1){
const err11 = {instancePath:instancePath+"/region",schemaPath:"#/properties/region/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err11];
}
else {
vErrors.push(err11);
}
errors++;
}
}
else {
const err12 = {instancePath:instancePath+"/region",schemaPath:"#/properties/region/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err12];
}
else {
vErrors.push(err12);
}
errors++;
}
}
if(data.useArnRegion !== undefined){
if(typeof data.useArnRegion !== "boolean"){
const err13 = {instancePath:instancePath+"/useArnRegion",schemaPath:"#/properties/useArnRegion/type",keyword:"type",params:{type: "boolean"},message:"must be boolean"};
if(vErrors === null){
vErrors = [err13];
}
else {
vErrors.push(err13);
}
errors++;
}
}
if(data.endpoint !== undefined){
let data4 = data.endpoint;
if(typeof data4 === "string"){
if(!pattern2.test(data4)){
const err14 = {instancePath:instancePath+"/endpoint",schemaPath:"#/definitions/url/pattern",keyword:"pattern",params:{pattern: "^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$"},message:"must match pattern \""+"^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$"+"\""};
if(vErrors === null){
vErrors = [err14];
}
else {
vErrors.push(err14);
}
errors++;
}
}
else {
const err15 = {instancePath:instancePath+"/endpoint",schemaPath:"#/definitions/url/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err15];
}
else {
vErrors.push(err15);
}
errors++;
}
}
if(data.addressing !== undefined){
let data5 = data.addressing;
if(!((data5 === "path") || (data5 === "virtual"))){
const err16 = {instancePath:instancePath+"/addressing",schemaPath:"#/properties/addressing/enum",keyword:"enum",params:{allowedValues: schema12.properties.addressing.enum},message:"must be equal to one of the allowed values"};
if(vErrors === null){
vErrors = [err16];
}
else {
vErrors.push(err16);
}
errors++;
}
}
if(data.tls !== undefined){
let data6 = data.tls;
if(data6 && typeof data6 == "object" && !Array.isArray(data6)){
for(const key1 in data6){
if(!((key1 === "verify") || (key1 === "caBundle"))){
const err17 = {instancePath:instancePath+"/tls",schemaPath:"#/properties/tls/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key1},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err17];
}
else {
vErrors.push(err17);
}
errors++;
}
}
if(data6.verify !== undefined){
if(typeof data6.verify !== "boolean"){
const err18 = {instancePath:instancePath+"/tls/verify",schemaPath:"#/properties/tls/properties/verify/type",keyword:"type",params:{type: "boolean"},message:"must be boolean"};
if(vErrors === null){
vErrors = [err18];
}
else {
vErrors.push(err18);
}
errors++;
}
}
if(data6.caBundle !== undefined){
let data8 = data6.caBundle;
if(typeof data8 === "string"){
if(func3(data8) < 1){
const err19 = {instancePath:instancePath+"/tls/caBundle",schemaPath:"#/properties/tls/properties/caBundle/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err19];
}
else {
vErrors.push(err19);
}
errors++;
}
}
else {
const err20 = {instancePath:instancePath+"/tls/caBundle",schemaPath:"#/properties/tls/properties/caBundle/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err20];
}
else {
vErrors.push(err20);
}
errors++;
}
}
}
else {
const err21 = {instancePath:instancePath+"/tls",schemaPath:"#/properties/tls/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err21];
}
else {
vErrors.push(err21);
}
errors++;
}
}
if(data.proxy !== undefined){
let data9 = data.proxy;
if(typeof data9 === "string"){
if(!pattern2.test(data9)){
const err22 = {instancePath:instancePath+"/proxy",schemaPath:"#/definitions/url/pattern",keyword:"pattern",params:{pattern: "^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$"},message:"must match pattern \""+"^[hH][tT][tT][pP][sS]?://[^\\s/?#]+(/[^\\s]*)?$"+"\""};
if(vErrors === null){
vErrors = [err22];
}
else {
vErrors.push(err22);
}
errors++;
}
}
else {
const err23 = {instancePath:instancePath+"/proxy",schemaPath:"#/definitions/url/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err23];
}
else {
vErrors.push(err23);
}
errors++;
}
}
if(data.listApi !== undefined){
let data10 = data.listApi;
if(!((data10 === "v1") || (data10 === "v2"))){
const err24 = {instancePath:instancePath+"/listApi",schemaPath:"#/properties/listApi/enum",keyword:"enum",params:{allowedValues: schema12.properties.listApi.enum},message:"must be equal to one of the allowed values"};
if(vErrors === null){
vErrors = [err24];
}
else {
vErrors.push(err24);
}
errors++;
}
}
if(data.maxConnections !== undefined){
let data11 = data.maxConnections;
if(!(((typeof data11 == "number") && (!(data11 % 1) && !isNaN(data11))) && (isFinite(data11)))){
const err25 = {instancePath:instancePath+"/maxConnections",schemaPath:"#/properties/maxConnections/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err25];
}
else {
vErrors.push(err25);
}
errors++;
}
if((typeof data11 == "number") && (isFinite(data11))){
if(data11 < 1 || isNaN(data11)){
const err26 = {instancePath:instancePath+"/maxConnections",schemaPath:"#/properties/maxConnections/minimum",keyword:"minimum",params:{comparison: ">=", limit: 1},message:"must be >= 1"};
if(vErrors === null){
vErrors = [err26];
}
else {
vErrors.push(err26);
}
errors++;
}
}
}
if(data.bandwidth !== undefined){
let data12 = data.bandwidth;
if(typeof data12 === "string"){
if(func3(data12) < 1){
const err27 = {instancePath:instancePath+"/bandwidth",schemaPath:"#/properties/bandwidth/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err27];
}
else {
vErrors.push(err27);
}
errors++;
}
}
else {
const err28 = {instancePath:instancePath+"/bandwidth",schemaPath:"#/properties/bandwidth/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err28];
}
else {
vErrors.push(err28);
}
errors++;
}
}
if(data.credentials !== undefined){
let data13 = data.credentials;
const _errs36 = errors;
let valid7 = true;
const _errs37 = errors;
if(data13 && typeof data13 == "object" && !Array.isArray(data13)){
let missing0;
if((data13.profile === undefined) && (missing0 = "profile")){
const err29 = {};
if(vErrors === null){
vErrors = [err29];
}
else {
vErrors.push(err29);
}
errors++;
}
}
var _valid1 = _errs37 === errors;
errors = _errs36;
if(vErrors !== null){
if(_errs36){
vErrors.length = _errs36;
}
else {
vErrors = null;
}
}
let ifClause0;
if(_valid1){
const _errs38 = errors;
if(data13 && typeof data13 == "object" && !Array.isArray(data13)){
if(data13.accessKeyId !== undefined){
const err30 = {instancePath:instancePath+"/credentials/accessKeyId",schemaPath:"#/definitions/credentials/then/properties/accessKeyId/false schema",keyword:"false schema",params:{},message:"boolean schema is false"};
if(vErrors === null){
vErrors = [err30];
}
else {
vErrors.push(err30);
}
errors++;
}
if(data13.secretAccessKey !== undefined){
const err31 = {instancePath:instancePath+"/credentials/secretAccessKey",schemaPath:"#/definitions/credentials/then/properties/secretAccessKey/false schema",keyword:"false schema",params:{},message:"boolean schema is false"};
if(vErrors === null){
vErrors = [err31];
}
else {
vErrors.push(err31);
}
errors++;
}
if(data13.sessionToken !== undefined){
const err32 = {instancePath:instancePath+"/credentials/sessionToken",schemaPath:"#/definitions/credentials/then/properties/sessionToken/false schema",keyword:"false schema",params:{},message:"boolean schema is false"};
if(vErrors === null){
vErrors = [err32];
}
else {
vErrors.push(err32);
}
errors++;
}
}
var _valid1 = _errs38 === errors;
valid7 = _valid1;
ifClause0 = "then";
}
else {
const _errs39 = errors;
if(data13 && typeof data13 == "object" && !Array.isArray(data13)){
if(data13.accessKeyId === undefined){
const err33 = {instancePath:instancePath+"/credentials",schemaPath:"#/definitions/credentials/else/required",keyword:"required",params:{missingProperty: "accessKeyId"},message:"must have required property '"+"accessKeyId"+"'"};
if(vErrors === null){
vErrors = [err33];
}
else {
vErrors.push(err33);
}
errors++;
}
if(data13.secretAccessKey === undefined){
const err34 = {instancePath:instancePath+"/credentials",schemaPath:"#/definitions/credentials/else/required",keyword:"required",params:{missingProperty: "secretAccessKey"},message:"must have required property '"+"secretAccessKey"+"'"};
if(vErrors === null){
vErrors = [err34];
}
else {
vErrors.push(err34);
}
errors++;
}
}
var _valid1 = _errs39 === errors;
valid7 = _valid1;
ifClause0 = "else";
}
if(!valid7){
const err35 = {instancePath:instancePath+"/credentials",schemaPath:"#/definitions/credentials/if",keyword:"if",params:{failingKeyword: ifClause0},message:"must match \""+ifClause0+"\" schema"};
if(vErrors === null){
vErrors = [err35];
}
else {
vErrors.push(err35);
}
errors++;
}
if(data13 && typeof data13 == "object" && !Array.isArray(data13)){
for(const key2 in data13){
if(!((((key2 === "accessKeyId") || (key2 === "secretAccessKey")) || (key2 === "sessionToken")) || (key2 === "profile"))){
const err36 = {instancePath:instancePath+"/credentials",schemaPath:"#/definitions/credentials/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key2},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err36];
}
else {
vErrors.push(err36);
}
errors++;
}
}
if(data13.accessKeyId !== undefined){
let data17 = data13.accessKeyId;
if(typeof data17 === "string"){
if(func3(data17) < 1){
const err37 = {instancePath:instancePath+"/credentials/accessKeyId",schemaPath:"#/definitions/credentials/properties/accessKeyId/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err37];
}
else {
vErrors.push(err37);
}
errors++;
}
}
else {
const err38 = {instancePath:instancePath+"/credentials/accessKeyId",schemaPath:"#/definitions/credentials/properties/accessKeyId/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err38];
}
else {
vErrors.push(err38);
}
errors++;
}
}
if(data13.secretAccessKey !== undefined){
let data18 = data13.secretAccessKey;
if(typeof data18 === "string"){
if(func3(data18) < 1){
const err39 = {instancePath:instancePath+"/credentials/secretAccessKey",schemaPath:"#/definitions/credentials/properties/secretAccessKey/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err39];
}
else {
vErrors.push(err39);
}
errors++;
}
}
else {
const err40 = {instancePath:instancePath+"/credentials/secretAccessKey",schemaPath:"#/definitions/credentials/properties/secretAccessKey/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err40];
}
else {
vErrors.push(err40);
}
errors++;
}
}
if(data13.sessionToken !== undefined){
let data19 = data13.sessionToken;
if(typeof data19 === "string"){
if(func3(data19) < 1){
const err41 = {instancePath:instancePath+"/credentials/sessionToken",schemaPath:"#/definitions/credentials/properties/sessionToken/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err41];
}
else {
vErrors.push(err41);
}
errors++;
}
}
else {
const err42 = {instancePath:instancePath+"/credentials/sessionToken",schemaPath:"#/definitions/credentials/properties/sessionToken/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err42];
}
else {
vErrors.push(err42);
}
errors++;
}
}
if(data13.profile !== undefined){
let data20 = data13.profile;
if(typeof data20 === "string"){
if(func3(data20) < 1){
const err43 = {instancePath:instancePath+"/credentials/profile",schemaPath:"#/definitions/credentials/properties/profile/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err43];
}
else {
vErrors.push(err43);
}
errors++;
}
}
else {
const err44 = {instancePath:instancePath+"/credentials/profile",schemaPath:"#/definitions/credentials/properties/profile/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err44];
}
else {
vErrors.push(err44);
}
errors++;
}
}
}
else {
const err45 = {instancePath:instancePath+"/credentials",schemaPath:"#/definitions/credentials/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err45];
}
else {
vErrors.push(err45);
}
errors++;
}
}
}
else {
const err46 = {instancePath,schemaPath:"#/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err46];
}
else {
vErrors.push(err46);
}
errors++;
}
validate11.errors = vErrors;
return errors === 0;
}

const schema17 = {"description":"A percentage of the volume (`5%`, 0 to 99) or a size (`20GiB`).","anyOf":[{"$ref":"#/definitions/size"},{"type":"string","pattern":"^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$"}]};
const pattern4 = new RegExp("^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$", "u");
const pattern5 = new RegExp("^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$", "u");

function validate14(data, {instancePath="", parentData, parentDataProperty, rootData=data}={}){
let vErrors = null;
let errors = 0;
const _errs0 = errors;
let valid0 = false;
const _errs1 = errors;
const _errs3 = errors;
let valid2 = false;
const _errs4 = errors;
if(!(((typeof data == "number") && (!(data % 1) && !isNaN(data))) && (isFinite(data)))){
const err0 = {instancePath,schemaPath:"#/definitions/size/anyOf/0/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err0];
}
else {
vErrors.push(err0);
}
errors++;
}
if((typeof data == "number") && (isFinite(data))){
if(data < 0 || isNaN(data)){
const err1 = {instancePath,schemaPath:"#/definitions/size/anyOf/0/minimum",keyword:"minimum",params:{comparison: ">=", limit: 0},message:"must be >= 0"};
if(vErrors === null){
vErrors = [err1];
}
else {
vErrors.push(err1);
}
errors++;
}
}
var _valid1 = _errs4 === errors;
valid2 = valid2 || _valid1;
if(!valid2){
const _errs6 = errors;
if(typeof data === "string"){
if(!pattern4.test(data)){
const err2 = {instancePath,schemaPath:"#/definitions/size/anyOf/1/pattern",keyword:"pattern",params:{pattern: "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"},message:"must match pattern \""+"^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"+"\""};
if(vErrors === null){
vErrors = [err2];
}
else {
vErrors.push(err2);
}
errors++;
}
}
else {
const err3 = {instancePath,schemaPath:"#/definitions/size/anyOf/1/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err3];
}
else {
vErrors.push(err3);
}
errors++;
}
var _valid1 = _errs6 === errors;
valid2 = valid2 || _valid1;
}
if(!valid2){
const err4 = {instancePath,schemaPath:"#/definitions/size/anyOf",keyword:"anyOf",params:{},message:"must match a schema in anyOf"};
if(vErrors === null){
vErrors = [err4];
}
else {
vErrors.push(err4);
}
errors++;
}
else {
errors = _errs3;
if(vErrors !== null){
if(_errs3){
vErrors.length = _errs3;
}
else {
vErrors = null;
}
}
}
var _valid0 = _errs1 === errors;
valid0 = valid0 || _valid0;
if(!valid0){
const _errs8 = errors;
if(typeof data === "string"){
if(!pattern5.test(data)){
const err5 = {instancePath,schemaPath:"#/anyOf/1/pattern",keyword:"pattern",params:{pattern: "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$"},message:"must match pattern \""+"^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$"+"\""};
if(vErrors === null){
vErrors = [err5];
}
else {
vErrors.push(err5);
}
errors++;
}
}
else {
const err6 = {instancePath,schemaPath:"#/anyOf/1/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err6];
}
else {
vErrors.push(err6);
}
errors++;
}
var _valid0 = _errs8 === errors;
valid0 = valid0 || _valid0;
}
if(!valid0){
const err7 = {instancePath,schemaPath:"#/anyOf",keyword:"anyOf",params:{},message:"must match a schema in anyOf"};
if(vErrors === null){
vErrors = [err7];
}
else {
vErrors.push(err7);
}
errors++;
}
else {
errors = _errs0;
if(vErrors !== null){
if(_errs0){
vErrors.length = _errs0;
}
else {
vErrors = null;
}
}
}
validate14.errors = vErrors;
return errors === 0;
}

const pattern9 = new RegExp("^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$", "u");

function validate10(data, {instancePath="", parentData, parentDataProperty, rootData=data}={}){
let vErrors = null;
let errors = 0;
if(data && typeof data == "object" && !Array.isArray(data)){
if(data.version === undefined){
const err0 = {instancePath,schemaPath:"#/required",keyword:"required",params:{missingProperty: "version"},message:"must have required property '"+"version"+"'"};
if(vErrors === null){
vErrors = [err0];
}
else {
vErrors.push(err0);
}
errors++;
}
if(data.source === undefined){
const err1 = {instancePath,schemaPath:"#/required",keyword:"required",params:{missingProperty: "source"},message:"must have required property '"+"source"+"'"};
if(vErrors === null){
vErrors = [err1];
}
else {
vErrors.push(err1);
}
errors++;
}
if(data.destination === undefined){
const err2 = {instancePath,schemaPath:"#/required",keyword:"required",params:{missingProperty: "destination"},message:"must have required property '"+"destination"+"'"};
if(vErrors === null){
vErrors = [err2];
}
else {
vErrors.push(err2);
}
errors++;
}
if(data.staging === undefined){
const err3 = {instancePath,schemaPath:"#/required",keyword:"required",params:{missingProperty: "staging"},message:"must have required property '"+"staging"+"'"};
if(vErrors === null){
vErrors = [err3];
}
else {
vErrors.push(err3);
}
errors++;
}
for(const key0 in data){
if(!(((((((key0 === "version") || (key0 === "source")) || (key0 === "destination")) || (key0 === "staging")) || (key0 === "stateDir")) || (key0 === "transfer")) || (key0 === "watch"))){
const err4 = {instancePath,schemaPath:"#/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key0},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err4];
}
else {
vErrors.push(err4);
}
errors++;
}
}
if(data.version !== undefined){
if(1 !== data.version){
const err5 = {instancePath:instancePath+"/version",schemaPath:"#/properties/version/const",keyword:"const",params:{allowedValue: 1},message:"must be equal to constant"};
if(vErrors === null){
vErrors = [err5];
}
else {
vErrors.push(err5);
}
errors++;
}
}
if(data.source !== undefined){
if(!(validate11(data.source, {instancePath:instancePath+"/source",parentData:data,parentDataProperty:"source",rootData}))){
vErrors = vErrors === null ? validate11.errors : vErrors.concat(validate11.errors);
errors = vErrors.length;
}
}
if(data.destination !== undefined){
if(!(validate11(data.destination, {instancePath:instancePath+"/destination",parentData:data,parentDataProperty:"destination",rootData}))){
vErrors = vErrors === null ? validate11.errors : vErrors.concat(validate11.errors);
errors = vErrors.length;
}
}
if(data.staging !== undefined){
let data3 = data.staging;
if(data3 && typeof data3 == "object" && !Array.isArray(data3)){
if(data3.volumes === undefined){
const err6 = {instancePath:instancePath+"/staging",schemaPath:"#/properties/staging/required",keyword:"required",params:{missingProperty: "volumes"},message:"must have required property '"+"volumes"+"'"};
if(vErrors === null){
vErrors = [err6];
}
else {
vErrors.push(err6);
}
errors++;
}
for(const key1 in data3){
if(!((key1 === "volumes") || (key1 === "reserve"))){
const err7 = {instancePath:instancePath+"/staging",schemaPath:"#/properties/staging/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key1},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err7];
}
else {
vErrors.push(err7);
}
errors++;
}
}
if(data3.volumes !== undefined){
let data4 = data3.volumes;
if(Array.isArray(data4)){
if(data4.length < 1){
const err8 = {instancePath:instancePath+"/staging/volumes",schemaPath:"#/properties/staging/properties/volumes/minItems",keyword:"minItems",params:{limit: 1},message:"must NOT have fewer than 1 items"};
if(vErrors === null){
vErrors = [err8];
}
else {
vErrors.push(err8);
}
errors++;
}
const len0 = data4.length;
for(let i0=0; i0<len0; i0++){
let data5 = data4[i0];
if(typeof data5 === "string"){
if(func3(data5) < 1){
const err9 = {instancePath:instancePath+"/staging/volumes/" + i0,schemaPath:"#/properties/staging/properties/volumes/items/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err9];
}
else {
vErrors.push(err9);
}
errors++;
}
}
else {
const err10 = {instancePath:instancePath+"/staging/volumes/" + i0,schemaPath:"#/properties/staging/properties/volumes/items/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err10];
}
else {
vErrors.push(err10);
}
errors++;
}
}
}
else {
const err11 = {instancePath:instancePath+"/staging/volumes",schemaPath:"#/properties/staging/properties/volumes/type",keyword:"type",params:{type: "array"},message:"must be array"};
if(vErrors === null){
vErrors = [err11];
}
else {
vErrors.push(err11);
}
errors++;
}
}
if(data3.reserve !== undefined){
if(!(validate14(data3.reserve, {instancePath:instancePath+"/staging/reserve",parentData:data3,parentDataProperty:"reserve",rootData}))){
vErrors = vErrors === null ? validate14.errors : vErrors.concat(validate14.errors);
errors = vErrors.length;
}
}
}
else {
const err12 = {instancePath:instancePath+"/staging",schemaPath:"#/properties/staging/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err12];
}
else {
vErrors.push(err12);
}
errors++;
}
}
if(data.stateDir !== undefined){
let data7 = data.stateDir;
if(typeof data7 === "string"){
if(func3(data7) < 1){
const err13 = {instancePath:instancePath+"/stateDir",schemaPath:"#/properties/stateDir/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err13];
}
else {
vErrors.push(err13);
}
errors++;
}
}
else {
const err14 = {instancePath:instancePath+"/stateDir",schemaPath:"#/properties/stateDir/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err14];
}
else {
vErrors.push(err14);
}
errors++;
}
}
if(data.transfer !== undefined){
let data8 = data.transfer;
if(data8 && typeof data8 == "object" && !Array.isArray(data8)){
for(const key2 in data8){
if(!(func2.call(schema11.properties.transfer.properties, key2))){
const err15 = {instancePath:instancePath+"/transfer",schemaPath:"#/properties/transfer/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key2},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err15];
}
else {
vErrors.push(err15);
}
errors++;
}
}
if(data8.maxBatchBytes !== undefined){
let data9 = data8.maxBatchBytes;
const _errs20 = errors;
let valid6 = false;
const _errs21 = errors;
if(!(((typeof data9 == "number") && (!(data9 % 1) && !isNaN(data9))) && (isFinite(data9)))){
const err16 = {instancePath:instancePath+"/transfer/maxBatchBytes",schemaPath:"#/definitions/size/anyOf/0/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err16];
}
else {
vErrors.push(err16);
}
errors++;
}
if((typeof data9 == "number") && (isFinite(data9))){
if(data9 < 0 || isNaN(data9)){
const err17 = {instancePath:instancePath+"/transfer/maxBatchBytes",schemaPath:"#/definitions/size/anyOf/0/minimum",keyword:"minimum",params:{comparison: ">=", limit: 0},message:"must be >= 0"};
if(vErrors === null){
vErrors = [err17];
}
else {
vErrors.push(err17);
}
errors++;
}
}
var _valid0 = _errs21 === errors;
valid6 = valid6 || _valid0;
if(!valid6){
const _errs23 = errors;
if(typeof data9 === "string"){
if(!pattern4.test(data9)){
const err18 = {instancePath:instancePath+"/transfer/maxBatchBytes",schemaPath:"#/definitions/size/anyOf/1/pattern",keyword:"pattern",params:{pattern: "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"},message:"must match pattern \""+"^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"+"\""};
if(vErrors === null){
vErrors = [err18];
}
else {
vErrors.push(err18);
}
errors++;
}
}
else {
const err19 = {instancePath:instancePath+"/transfer/maxBatchBytes",schemaPath:"#/definitions/size/anyOf/1/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err19];
}
else {
vErrors.push(err19);
}
errors++;
}
var _valid0 = _errs23 === errors;
valid6 = valid6 || _valid0;
}
if(!valid6){
const err20 = {instancePath:instancePath+"/transfer/maxBatchBytes",schemaPath:"#/definitions/size/anyOf",keyword:"anyOf",params:{},message:"must match a schema in anyOf"};
if(vErrors === null){
vErrors = [err20];
}
else {
vErrors.push(err20);
}
errors++;
}
else {
errors = _errs20;
if(vErrors !== null){
if(_errs20){
vErrors.length = _errs20;
}
else {
vErrors = null;
}
}
}
}
if(data8.maxUploadBatchBytes !== undefined){
let data10 = data8.maxUploadBatchBytes;
const _errs27 = errors;
let valid8 = false;
const _errs28 = errors;
if(!(((typeof data10 == "number") && (!(data10 % 1) && !isNaN(data10))) && (isFinite(data10)))){
const err21 = {instancePath:instancePath+"/transfer/maxUploadBatchBytes",schemaPath:"#/definitions/size/anyOf/0/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err21];
}
else {
vErrors.push(err21);
}
errors++;
}
if((typeof data10 == "number") && (isFinite(data10))){
if(data10 < 0 || isNaN(data10)){
const err22 = {instancePath:instancePath+"/transfer/maxUploadBatchBytes",schemaPath:"#/definitions/size/anyOf/0/minimum",keyword:"minimum",params:{comparison: ">=", limit: 0},message:"must be >= 0"};
if(vErrors === null){
vErrors = [err22];
}
else {
vErrors.push(err22);
}
errors++;
}
}
var _valid1 = _errs28 === errors;
valid8 = valid8 || _valid1;
if(!valid8){
const _errs30 = errors;
if(typeof data10 === "string"){
if(!pattern4.test(data10)){
const err23 = {instancePath:instancePath+"/transfer/maxUploadBatchBytes",schemaPath:"#/definitions/size/anyOf/1/pattern",keyword:"pattern",params:{pattern: "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"},message:"must match pattern \""+"^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"+"\""};
if(vErrors === null){
vErrors = [err23];
}
else {
vErrors.push(err23);
}
errors++;
}
}
else {
const err24 = {instancePath:instancePath+"/transfer/maxUploadBatchBytes",schemaPath:"#/definitions/size/anyOf/1/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err24];
}
else {
vErrors.push(err24);
}
errors++;
}
var _valid1 = _errs30 === errors;
valid8 = valid8 || _valid1;
}
if(!valid8){
const err25 = {instancePath:instancePath+"/transfer/maxUploadBatchBytes",schemaPath:"#/definitions/size/anyOf",keyword:"anyOf",params:{},message:"must match a schema in anyOf"};
if(vErrors === null){
vErrors = [err25];
}
else {
vErrors.push(err25);
}
errors++;
}
else {
errors = _errs27;
if(vErrors !== null){
if(_errs27){
vErrors.length = _errs27;
}
else {
vErrors = null;
}
}
}
}
if(data8.workers !== undefined){
let data11 = data8.workers;
if(!(((typeof data11 == "number") && (!(data11 % 1) && !isNaN(data11))) && (isFinite(data11)))){
const err26 = {instancePath:instancePath+"/transfer/workers",schemaPath:"#/properties/transfer/properties/workers/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err26];
}
else {
vErrors.push(err26);
}
errors++;
}
if((typeof data11 == "number") && (isFinite(data11))){
if(data11 > 4096 || isNaN(data11)){
const err27 = {instancePath:instancePath+"/transfer/workers",schemaPath:"#/properties/transfer/properties/workers/maximum",keyword:"maximum",params:{comparison: "<=", limit: 4096},message:"must be <= 4096"};
if(vErrors === null){
vErrors = [err27];
}
else {
vErrors.push(err27);
}
errors++;
}
if(data11 < 1 || isNaN(data11)){
const err28 = {instancePath:instancePath+"/transfer/workers",schemaPath:"#/properties/transfer/properties/workers/minimum",keyword:"minimum",params:{comparison: ">=", limit: 1},message:"must be >= 1"};
if(vErrors === null){
vErrors = [err28];
}
else {
vErrors.push(err28);
}
errors++;
}
}
}
if(data8.concurrency !== undefined){
let data12 = data8.concurrency;
if(!(((typeof data12 == "number") && (!(data12 % 1) && !isNaN(data12))) && (isFinite(data12)))){
const err29 = {instancePath:instancePath+"/transfer/concurrency",schemaPath:"#/properties/transfer/properties/concurrency/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err29];
}
else {
vErrors.push(err29);
}
errors++;
}
if((typeof data12 == "number") && (isFinite(data12))){
if(data12 > 64 || isNaN(data12)){
const err30 = {instancePath:instancePath+"/transfer/concurrency",schemaPath:"#/properties/transfer/properties/concurrency/maximum",keyword:"maximum",params:{comparison: "<=", limit: 64},message:"must be <= 64"};
if(vErrors === null){
vErrors = [err30];
}
else {
vErrors.push(err30);
}
errors++;
}
if(data12 < 1 || isNaN(data12)){
const err31 = {instancePath:instancePath+"/transfer/concurrency",schemaPath:"#/properties/transfer/properties/concurrency/minimum",keyword:"minimum",params:{comparison: ">=", limit: 1},message:"must be >= 1"};
if(vErrors === null){
vErrors = [err31];
}
else {
vErrors.push(err31);
}
errors++;
}
}
}
if(data8.partSize !== undefined){
let data13 = data8.partSize;
const _errs38 = errors;
let valid10 = false;
const _errs39 = errors;
if(!(((typeof data13 == "number") && (!(data13 % 1) && !isNaN(data13))) && (isFinite(data13)))){
const err32 = {instancePath:instancePath+"/transfer/partSize",schemaPath:"#/definitions/size/anyOf/0/type",keyword:"type",params:{type: "integer"},message:"must be integer"};
if(vErrors === null){
vErrors = [err32];
}
else {
vErrors.push(err32);
}
errors++;
}
if((typeof data13 == "number") && (isFinite(data13))){
if(data13 < 0 || isNaN(data13)){
const err33 = {instancePath:instancePath+"/transfer/partSize",schemaPath:"#/definitions/size/anyOf/0/minimum",keyword:"minimum",params:{comparison: ">=", limit: 0},message:"must be >= 0"};
if(vErrors === null){
vErrors = [err33];
}
else {
vErrors.push(err33);
}
errors++;
}
}
var _valid2 = _errs39 === errors;
valid10 = valid10 || _valid2;
if(!valid10){
const _errs41 = errors;
if(typeof data13 === "string"){
if(!pattern4.test(data13)){
const err34 = {instancePath:instancePath+"/transfer/partSize",schemaPath:"#/definitions/size/anyOf/1/pattern",keyword:"pattern",params:{pattern: "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"},message:"must match pattern \""+"^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$"+"\""};
if(vErrors === null){
vErrors = [err34];
}
else {
vErrors.push(err34);
}
errors++;
}
}
else {
const err35 = {instancePath:instancePath+"/transfer/partSize",schemaPath:"#/definitions/size/anyOf/1/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err35];
}
else {
vErrors.push(err35);
}
errors++;
}
var _valid2 = _errs41 === errors;
valid10 = valid10 || _valid2;
}
if(!valid10){
const err36 = {instancePath:instancePath+"/transfer/partSize",schemaPath:"#/definitions/size/anyOf",keyword:"anyOf",params:{},message:"must match a schema in anyOf"};
if(vErrors === null){
vErrors = [err36];
}
else {
vErrors.push(err36);
}
errors++;
}
else {
errors = _errs38;
if(vErrors !== null){
if(_errs38){
vErrors.length = _errs38;
}
else {
vErrors = null;
}
}
}
}
if(data8.verify !== undefined){
let data14 = data8.verify;
if(!((data14 === "size") || (data14 === "etag"))){
const err37 = {instancePath:instancePath+"/transfer/verify",schemaPath:"#/properties/transfer/properties/verify/enum",keyword:"enum",params:{allowedValues: schema11.properties.transfer.properties.verify.enum},message:"must be equal to one of the allowed values"};
if(vErrors === null){
vErrors = [err37];
}
else {
vErrors.push(err37);
}
errors++;
}
}
if(data8.adopt !== undefined){
let data15 = data8.adopt;
if(!(((data15 === "content") || (data15 === "transfer")) || (data15 === "size"))){
const err38 = {instancePath:instancePath+"/transfer/adopt",schemaPath:"#/properties/transfer/properties/adopt/enum",keyword:"enum",params:{allowedValues: schema11.properties.transfer.properties.adopt.enum},message:"must be equal to one of the allowed values"};
if(vErrors === null){
vErrors = [err38];
}
else {
vErrors.push(err38);
}
errors++;
}
}
if(data8.purgeAfterUpload !== undefined){
if(typeof data8.purgeAfterUpload !== "boolean"){
const err39 = {instancePath:instancePath+"/transfer/purgeAfterUpload",schemaPath:"#/properties/transfer/properties/purgeAfterUpload/type",keyword:"type",params:{type: "boolean"},message:"must be boolean"};
if(vErrors === null){
vErrors = [err39];
}
else {
vErrors.push(err39);
}
errors++;
}
}
if(data8.stallTimeout !== undefined){
let data17 = data8.stallTimeout;
if(typeof data17 === "string"){
if(!pattern9.test(data17)){
const err40 = {instancePath:instancePath+"/transfer/stallTimeout",schemaPath:"#/definitions/duration/pattern",keyword:"pattern",params:{pattern: "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"},message:"must match pattern \""+"^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"+"\""};
if(vErrors === null){
vErrors = [err40];
}
else {
vErrors.push(err40);
}
errors++;
}
}
else {
const err41 = {instancePath:instancePath+"/transfer/stallTimeout",schemaPath:"#/definitions/duration/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err41];
}
else {
vErrors.push(err41);
}
errors++;
}
}
if(data8.include !== undefined){
let data18 = data8.include;
if(Array.isArray(data18)){
const len1 = data18.length;
for(let i1=0; i1<len1; i1++){
let data19 = data18[i1];
if(typeof data19 === "string"){
if(func3(data19) < 1){
const err42 = {instancePath:instancePath+"/transfer/include/" + i1,schemaPath:"#/definitions/glob/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err42];
}
else {
vErrors.push(err42);
}
errors++;
}
}
else {
const err43 = {instancePath:instancePath+"/transfer/include/" + i1,schemaPath:"#/definitions/glob/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err43];
}
else {
vErrors.push(err43);
}
errors++;
}
}
}
else {
const err44 = {instancePath:instancePath+"/transfer/include",schemaPath:"#/properties/transfer/properties/include/type",keyword:"type",params:{type: "array"},message:"must be array"};
if(vErrors === null){
vErrors = [err44];
}
else {
vErrors.push(err44);
}
errors++;
}
}
if(data8.exclude !== undefined){
let data20 = data8.exclude;
if(Array.isArray(data20)){
const len2 = data20.length;
for(let i2=0; i2<len2; i2++){
let data21 = data20[i2];
if(typeof data21 === "string"){
if(func3(data21) < 1){
const err45 = {instancePath:instancePath+"/transfer/exclude/" + i2,schemaPath:"#/definitions/glob/minLength",keyword:"minLength",params:{limit: 1},message:"must NOT have fewer than 1 characters"};
if(vErrors === null){
vErrors = [err45];
}
else {
vErrors.push(err45);
}
errors++;
}
}
else {
const err46 = {instancePath:instancePath+"/transfer/exclude/" + i2,schemaPath:"#/definitions/glob/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err46];
}
else {
vErrors.push(err46);
}
errors++;
}
}
}
else {
const err47 = {instancePath:instancePath+"/transfer/exclude",schemaPath:"#/properties/transfer/properties/exclude/type",keyword:"type",params:{type: "array"},message:"must be array"};
if(vErrors === null){
vErrors = [err47];
}
else {
vErrors.push(err47);
}
errors++;
}
}
if(data8.retryBackoff !== undefined){
let data22 = data8.retryBackoff;
if(data22 && typeof data22 == "object" && !Array.isArray(data22)){
for(const key3 in data22){
if(!((key3 === "base") || (key3 === "max"))){
const err48 = {instancePath:instancePath+"/transfer/retryBackoff",schemaPath:"#/properties/transfer/properties/retryBackoff/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key3},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err48];
}
else {
vErrors.push(err48);
}
errors++;
}
}
if(data22.base !== undefined){
let data23 = data22.base;
if(typeof data23 === "string"){
if(!pattern9.test(data23)){
const err49 = {instancePath:instancePath+"/transfer/retryBackoff/base",schemaPath:"#/definitions/duration/pattern",keyword:"pattern",params:{pattern: "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"},message:"must match pattern \""+"^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"+"\""};
if(vErrors === null){
vErrors = [err49];
}
else {
vErrors.push(err49);
}
errors++;
}
}
else {
const err50 = {instancePath:instancePath+"/transfer/retryBackoff/base",schemaPath:"#/definitions/duration/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err50];
}
else {
vErrors.push(err50);
}
errors++;
}
}
if(data22.max !== undefined){
let data24 = data22.max;
if(typeof data24 === "string"){
if(!pattern9.test(data24)){
const err51 = {instancePath:instancePath+"/transfer/retryBackoff/max",schemaPath:"#/definitions/duration/pattern",keyword:"pattern",params:{pattern: "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"},message:"must match pattern \""+"^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"+"\""};
if(vErrors === null){
vErrors = [err51];
}
else {
vErrors.push(err51);
}
errors++;
}
}
else {
const err52 = {instancePath:instancePath+"/transfer/retryBackoff/max",schemaPath:"#/definitions/duration/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err52];
}
else {
vErrors.push(err52);
}
errors++;
}
}
}
else {
const err53 = {instancePath:instancePath+"/transfer/retryBackoff",schemaPath:"#/properties/transfer/properties/retryBackoff/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err53];
}
else {
vErrors.push(err53);
}
errors++;
}
}
}
else {
const err54 = {instancePath:instancePath+"/transfer",schemaPath:"#/properties/transfer/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err54];
}
else {
vErrors.push(err54);
}
errors++;
}
}
if(data.watch !== undefined){
let data25 = data.watch;
if(data25 && typeof data25 == "object" && !Array.isArray(data25)){
for(const key4 in data25){
if(!(key4 === "interval")){
const err55 = {instancePath:instancePath+"/watch",schemaPath:"#/properties/watch/additionalProperties",keyword:"additionalProperties",params:{additionalProperty: key4},message:"must NOT have additional properties"};
if(vErrors === null){
vErrors = [err55];
}
else {
vErrors.push(err55);
}
errors++;
}
}
if(data25.interval !== undefined){
let data26 = data25.interval;
if(typeof data26 === "string"){
if(!pattern9.test(data26)){
const err56 = {instancePath:instancePath+"/watch/interval",schemaPath:"#/definitions/duration/pattern",keyword:"pattern",params:{pattern: "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"},message:"must match pattern \""+"^\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)\\s*)+$"+"\""};
if(vErrors === null){
vErrors = [err56];
}
else {
vErrors.push(err56);
}
errors++;
}
}
else {
const err57 = {instancePath:instancePath+"/watch/interval",schemaPath:"#/definitions/duration/type",keyword:"type",params:{type: "string"},message:"must be string"};
if(vErrors === null){
vErrors = [err57];
}
else {
vErrors.push(err57);
}
errors++;
}
}
}
else {
const err58 = {instancePath:instancePath+"/watch",schemaPath:"#/properties/watch/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err58];
}
else {
vErrors.push(err58);
}
errors++;
}
}
}
else {
const err59 = {instancePath,schemaPath:"#/type",keyword:"type",params:{type: "object"},message:"must be object"};
if(vErrors === null){
vErrors = [err59];
}
else {
vErrors.push(err59);
}
errors++;
}
validate10.errors = vErrors;
return errors === 0;
}

