// Conformance oracle for walrus-go's codec (see README.md in this folder).
//
// A long-lived process around the Walrus reference RS2 encoder (@mysten/walrus-wasm@0.3.0,
// pinned in package-lock.json) so that a Go test can send many blobs without paying Node
// start-up for each. It reads request frames on stdin and writes one response frame per
// request on stdout, in order. Plain Node >= 20 CommonJS, no other dependencies.
//
// Framing (all integers little-endian):
//   request  = u32 len || op u8 || body           (len counts op + body)
//   response = u32 len || status u8 || body       (status 0 = ok, 1 = error, body = UTF-8 message)
//   bytes    = u32 len || len bytes               (a length-prefixed byte string inside a body)
//
// Ops (request body -> ok response body):
//   1 encode    n u16 || data...
//               -> blob_id[32] || unencoded_length u64 || root[32]
//                  || n x (primary_hash[32] || secondary_hash[32])   (pair order, docs/protocol.md §3)
//                  || n x bytes: primary sliver i, BCS, ordered by sliver index
//                  || n x bytes: secondary sliver i, BCS, ordered by sliver index
//   2 metadata  n u16 || data...
//               -> blob_id[32] || unencoded_length u64 || root[32]   (compute_metadata only)
//   3 decode    n u16 || blob_id[32] || size u64 || count u32 || count x bytes (primary BCS)
//               -> data (size bytes)
//   4 bls_verify            bytes sig || bytes pk || bytes msg  -> u8 (1 valid, 0 invalid)
//   5 bls_verify_aggregate  count u32 || count x bytes pk || bytes msg || bytes sig -> u8
//   6 bls_aggregate         count u32 || count x bytes sig  -> aggregate signature
//   7 time      n u16 || size u64 || seed u32
//               -> metadata_ms f64 || encode_ms f64 || metadata_cpu_ms f64 || encode_cpu_ms f64
//                  || blob_id[32]   (wall-clock and process CPU milliseconds)
//               Times compute_metadata and encode (run one after the other, as a client that
//               registers then uploads does) on `size` bytes from xorshift32(seed), below.
//
// xorshift32 (Marsaglia 2003, shifts 13/17/5), the deterministic benchmark bytes: state x =
// seed, or 0x9E3779B9 if seed is 0; for each 4-byte word: x ^= x << 13; x ^= x >>> 17;
// x ^= x << 5 (all mod 2^32); emit x as u32 little-endian; the last word is truncated to size.
// The Go benchmark (codec/bench_wasm_test.go) generates the same bytes and checks the blob ID.
'use strict';

const wasm = require('@mysten/walrus-wasm');

const OP_ENCODE = 1;
const OP_METADATA = 2;
const OP_DECODE = 3;
const OP_BLS_VERIFY = 4;
const OP_BLS_VERIFY_AGGREGATE = 5;
const OP_BLS_AGGREGATE = 6;
const OP_TIME = 7;

// One encoder per shard count: construction precomputes tables.
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
  u64() { this.need(8); const v = this.buf.readBigUInt64LE(this.off); this.off += 8; return v; }
  fixed(k) { this.need(k); const v = this.buf.subarray(this.off, this.off + k); this.off += k; return v; }
  bytes() { return this.fixed(this.u32()); }
  rest() { const v = this.buf.subarray(this.off); this.off = this.buf.length; return v; }
}

function u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; }
function u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; }
function f64(v) { const b = Buffer.alloc(8); b.writeDoubleLE(v); return b; }
function lp(bytes) { return [u32(bytes.length), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]; }

// bcsSize is the BCS length of a sliver with dataLen bytes: uleb128(len) || data || u16 || u16.
function bcsSize(dataLen) {
  let uleb = 1;
  for (let v = dataLen >>> 7; v !== 0; v >>>= 7) uleb++;
  return uleb + dataLen + 4;
}

// Geometry (docs/protocol.md §1); the encoder checks the size limit itself.
function geometry(n, length) {
  const f = Math.floor((n - 1) / 3);
  const rows = n - 2 * f;
  const cols = n - f;
  let s = Math.floor((Math.max(length, 1) - 1) / (rows * cols)) + 1;
  if (s % 2 === 1) s++;
  return { rows, cols, s };
}

function metadataFields(blobId, unencodedLength, root) {
  return [Buffer.from(blobId), u64(unencodedLength), Buffer.from(root.Digest)];
}

function encode(n, data) {
  const { rows, cols, s } = geometry(n, data.length);
  const primary = [];
  const secondary = [];
  for (let i = 0; i < n; i++) {
    primary.push(new Uint8Array(bcsSize(cols * s)));
    secondary.push(new Uint8Array(bcsSize(rows * s)));
  }
  const [meta, root] = encoder(n).encode(data, primary, secondary);
  const v1 = meta.metadata.V1;
  const out = metadataFields(meta.blob_id, v1.unencoded_length, root);
  for (const h of v1.hashes) {
    out.push(Buffer.from(h.primary_hash.Digest), Buffer.from(h.secondary_hash.Digest));
  }
  for (const p of primary) out.push(...lp(p));
  // The wasm fills secondary buffers in pair order: buffer i holds secondary sliver n-1-i
  // (docs/protocol.md §2). Reply in sliver-index order.
  for (let i = n - 1; i >= 0; i--) out.push(...lp(secondary[i]));
  return out;
}

function metadata(n, data) {
  const [blobId, root, unencodedLength] = encoder(n).compute_metadata(data);
  return metadataFields(blobId, unencodedLength, root);
}

function decode(r) {
  const n = r.u16();
  const blobId = Array.from(r.fixed(32));
  const size = r.u64();
  if (size > BigInt(0x7fffffff)) throw new Error('decode: size too large for the oracle');
  const count = r.u32();
  const slivers = [];
  for (let i = 0; i < count; i++) slivers.push(new Uint8Array(r.bytes()));
  const outBuf = new Uint8Array(Number(size));
  encoder(n).decode(blobId, size, slivers, outBuf);
  return [Buffer.from(outBuf.buffer)];
}

// xorshift32 bytes as documented at the top of this file.
function xorshift32Bytes(size, seed) {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  // Uint32Array uses platform byte order; every platform Node runs on here is little-endian,
  // and the check below makes a big-endian host fail loudly instead of silently differing.
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('big-endian host');
  return new Uint8Array(words.buffer, 0, size);
}

function time(n, size, seed) {
  if (size > BigInt(0x7fffffff)) throw new Error('time: size too large for the oracle');
  const data = xorshift32Bytes(Number(size), seed);
  const e = encoder(n);
  const { rows, cols, s } = geometry(n, data.length);
  const primary = [];
  const secondary = [];
  for (let i = 0; i < n; i++) {
    primary.push(new Uint8Array(bcsSize(cols * s)));
    secondary.push(new Uint8Array(bcsSize(rows * s)));
  }
  // Wall time, and this process's CPU time (user + system), which a loaded shared machine
  // distorts far less than wall time.
  const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
  const t0 = process.hrtime.bigint(), c0 = cpuMs();
  const [blobId] = e.compute_metadata(data);
  const t1 = process.hrtime.bigint(), c1 = cpuMs();
  e.encode(data, primary, secondary);
  const t2 = process.hrtime.bigint(), c2 = cpuMs();
  return [f64(Number(t1 - t0) / 1e6), f64(Number(t2 - t1) / 1e6), f64(c1 - c0), f64(c2 - c1),
    Buffer.from(blobId)];
}

function handle(req) {
  const r = new Reader(req);
  const op = r.u8();
  switch (op) {
    case OP_ENCODE: { const n = r.u16(); return encode(n, r.rest()); }
    case OP_METADATA: { const n = r.u16(); return metadata(n, r.rest()); }
    case OP_DECODE: return decode(r);
    case OP_BLS_VERIFY: {
      const sig = r.bytes(), pk = r.bytes(), msg = r.bytes();
      return [Buffer.from([wasm.bls12381_min_pk_verify(sig, pk, msg) ? 1 : 0])];
    }
    case OP_BLS_VERIFY_AGGREGATE: {
      const count = r.u32();
      const pks = [];
      for (let i = 0; i < count; i++) pks.push(Array.from(r.bytes()));
      const msg = r.bytes(), sig = r.bytes();
      return [Buffer.from([wasm.bls12381_min_pk_verify_aggregate(pks, msg, sig) ? 1 : 0])];
    }
    case OP_BLS_AGGREGATE: {
      const count = r.u32();
      const sigs = [];
      for (let i = 0; i < count; i++) sigs.push(Array.from(r.bytes()));
      return [Buffer.from(wasm.bls12381_min_pk_aggregate(sigs))];
    }
    case OP_TIME: { const n = r.u16(); const size = r.u64(); const seed = r.u32(); return time(n, size, seed); }
    default: throw new Error(`unknown op ${op}`);
  }
}

function reply(status, parts) {
  const len = 1 + parts.reduce((a, p) => a + p.length, 0);
  const head = Buffer.alloc(5);
  head.writeUInt32LE(len);
  head[4] = status;
  // Writes to a pipe are synchronous on Linux, so replies leave in order and in full.
  process.stdout.write(Buffer.concat([head, ...parts], 4 + len));
}

// Incoming bytes are kept as a list of chunks and joined only once a whole frame is present,
// so a many-MiB request is not re-copied on every chunk.
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
