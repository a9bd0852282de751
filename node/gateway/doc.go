// Package gateway is walrus-go's Walrus-compatible HTTP API (docs/gateway.md): the
// publisher (PUT /v1/blobs), the aggregator (GET /v1/blobs/{blob_id} with Range,
// .../byte-range) and both at once (Walrus's daemon), with the paths, parameters, status
// codes and JSON shapes of Walrus's published OpenAPI documents (openapi/, served at
// /v1/api), the error shape with stable reasons, publisher limits (body size, concurrent
// uploads, optional HS256 JWT) and its own metrics (/metrics).
//
// The gateway embeds the light client (node/client), never a storage node: Session adapts
// a client session to the two interfaces the HTTP layer uses, Reader (and RangeReader,
// for reads that fetch only what a range needs) and Publisher.
package gateway
