// Conformance oracle for walrus-go's quilts (codec/quilt; see README.md in this folder).
//
// A long-lived Node process around the Walrus TypeScript SDK's quilt code
// (@mysten/walrus 1.2.13: encodeQuilt, encodeQuiltPatchId, parseQuiltPatchId) and the
// Walrus RS2 encoder it depends on (@mysten/walrus-wasm 0.3.0, for the quilt's blob ID),
// both pinned in package-lock.json. The Go test (codec/quilt/conformance_test.go) starts it
// once and sends it many requests. ES module, Node >= 20, no other dependencies.
//
// Framing (all integers little-endian), the same as codec/testdata/wasm/oracle.js:
//   request  = u32 len || op u8 || body           (len counts op + body)
//   response = u32 len || status u8 || body       (status 0 = ok, 1 = error, body = UTF-8 message)
//   bytes    = u32 len || len bytes
//   tags     = u32 count || count x (bytes key || bytes value)      (UTF-8 strings)
//
// Ops (request body -> ok response body):
//   1 encode_quilt  n u16 || want_id u8 || count u32
//                   || count x (bytes identifier || tags || bytes contents)
//                   -> bytes quilt || count u32
//                      || count x (start u16 || end u16 || bytes identifier || tags)  (index order)
//                      || if want_id: blob_id[32] || count x bytes patch_id (encodeQuiltPatchId)
//   2 patch_id      quilt_id[32] || version u8 || start u16 || end u16
//                   -> bytes patch_id (the SDK's encodeQuiltPatchId string)
//   3 parse_patch   bytes patch_id (string)
//                   -> quilt_id[32] || version u8 || start u16 || end u16 (parseQuiltPatchId)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { encodeQuilt } from '@mysten/walrus';

const here = dirname(fileURLToPath(import.meta.url));
// The patch ID helpers are not among the package's exports; import their module by path.
const quilts = await import(
  pathToFileURL(join(here, 'node_modules', '@mysten', 'walrus', 'dist', 'utils', 'quilts.mjs')).href
);
const wasm = createRequire(import.meta.url)('@mysten/walrus-wasm');

const OP_ENCODE_QUILT = 1;
const OP_PATCH_ID = 2;
const OP_PARSE_PATCH_ID = 3;

const encoders = new Map();
function encoder(n) {
  let e = encoders.get(n);
  if (!e) {
    e = new wasm.BlobEncoder(n);
    encoders.set(n, e);
  }
  return e;
}

// Reader walks a request body; every read is bounds-checked so a bad frame is an error reply.
class Reader {
  constructor(buf) {
    this.buf = buf;
    this.off = 0;
  }
  need(k) {
    if (this.off + k > this.buf.length) throw new Error('truncated request');
  }
  u8() { this.need(1); return this.buf[this.off++]; }
  u16() { this.need(2); const v = this.buf.readUInt16LE(this.off); this.off += 2; return v; }
  u32() { this.need(4); const v = this.buf.readUInt32LE(this.off); this.off += 4; return v; }
  fixed(k) { this.need(k); const v = this.buf.subarray(this.off, this.off + k); this.off += k; return v; }
  bytes() { return this.fixed(this.u32()); }
  str() { return this.bytes().toString('utf8'); }
  tags() {
    const count = this.u32();
    const out = {};
    for (let i = 0; i < count; i++) {
      const k = this.str();
      out[k] = this.str();
    }
    return out;
  }
  end() { if (this.off !== this.buf.length) throw new Error('trailing bytes in request'); }
}

function u16(v) { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; }
function u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; }
function lp(bytes) { return [u32(bytes.length), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]; }
function lpStr(s) { return lp(Buffer.from(s, 'utf8')); }
function tagsOut(tags) {
  const entries = tags instanceof Map ? [...tags.entries()] : Object.entries(tags ?? {});
  const out = [u32(entries.length)];
  for (const [k, v] of entries) out.push(...lpStr(k), ...lpStr(v));
  return out;
}

function patchIdString(quiltId, start, end) {
  return quilts.encodeQuiltPatchId({
    quiltId: Buffer.from(quiltId).toString('base64url'),
    patchId: { version: 1, startIndex: start, endIndex: end },
  });
}

function encode(r) {
  const n = r.u16();
  const wantId = r.u8() !== 0;
  const count = r.u32();
  const blobs = [];
  for (let i = 0; i < count; i++) {
    const identifier = r.str();
    const tags = r.tags();
    const contents = new Uint8Array(r.bytes());
    const blob = { identifier, contents };
    // Exercise both forms the SDK accepts for "no tags": an absent field and an empty object.
    if (Object.keys(tags).length > 0 || i % 2 === 0) blob.tags = tags;
    blobs.push(blob);
  }
  r.end();
  const { quilt, index } = encodeQuilt({ blobs, numShards: n });
  const out = [...lp(quilt), u32(index.patches.length)];
  for (const p of index.patches) {
    out.push(u16(p.startIndex), u16(p.endIndex), ...lpStr(p.identifier), ...tagsOut(p.tags));
  }
  if (wantId) {
    const [blobId] = encoder(n).compute_metadata(quilt);
    const id = Buffer.from(blobId);
    out.push(id);
    for (const p of index.patches) out.push(...lpStr(patchIdString(id, p.startIndex, p.endIndex)));
  }
  return out;
}

function handle(req) {
  const r = new Reader(req);
  const op = r.u8();
  switch (op) {
    case OP_ENCODE_QUILT: return encode(r);
    case OP_PATCH_ID: {
      const id = r.fixed(32);
      const version = r.u8();
      const start = r.u16();
      const end = r.u16();
      r.end();
      const s = quilts.encodeQuiltPatchId({
        quiltId: Buffer.from(id).toString('base64url'),
        patchId: { version, startIndex: start, endIndex: end },
      });
      return lpStr(s);
    }
    case OP_PARSE_PATCH_ID: {
      const s = r.str();
      r.end();
      const { quiltId, patchId } = quilts.parseQuiltPatchId(s);
      const id = Buffer.from(quiltId, 'base64url');
      if (id.length !== 32) throw new Error(`quilt ID of ${id.length} bytes`);
      return [id, Buffer.from([patchId.version]), u16(patchId.startIndex), u16(patchId.endIndex)];
    }
    default: throw new Error(`unknown op ${op}`);
  }
}

function reply(status, parts) {
  const len = 1 + parts.reduce((a, p) => a + p.length, 0);
  const head = Buffer.alloc(5);
  head.writeUInt32LE(len);
  head[4] = status;
  process.stdout.write(Buffer.concat([head, ...parts], 4 + len));
}

// Incoming bytes are kept as a list of chunks and joined only once a whole frame is present.
let chunks = [];
let have = 0;
function pump() {
  for (;;) {
    if (have < 4) return;
    if (chunks[0].length < 4) { chunks = [Buffer.concat(chunks)]; }
    const len = chunks[0].readUInt32LE(0);
    if (have < 4 + len) return;
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
    const req = all.subarray(4, 4 + len);
    const rest = all.subarray(4 + len);
    chunks = rest.length ? [rest] : [];
    have = rest.length;
    try {
      reply(0, handle(req));
    } catch (err) {
      reply(1, [Buffer.from(String(err && err.message ? err.message : err), 'utf8')]);
    }
  }
}

process.stdin.on('data', (chunk) => { chunks.push(chunk); have += chunk.length; pump(); });
process.stdin.on('end', () => process.exit(0));
