package codec

// Leopard's chunk layout (docs/protocol.md §1). The Reed-Solomon engine works on shards whose
// length is a multiple of 64 bytes; within each 64-byte chunk, bytes 0..31 are the low bytes
// and bytes 32..63 the high bytes of 32 GF(2^16) elements. Walrus (reed-solomon-simd) feeds a
// symbol of s bytes as whole 64-byte chunks followed by a tail of t = s mod 64 bytes whose
// first t/2 bytes go to offset 0 and last t/2 bytes to offset 32 of a zeroed chunk. We convert
// every symbol to that layout before encoding and back afterwards; since the code acts on each
// element position independently, the converted symbols of a row or column can be laid side by
// side and encoded in one call.

// chunkSize is the engine's padded size of an s-byte symbol: s rounded up to 64.
func chunkSize(s int) int { return (s + 63) &^ 63 }

// toChunk writes the s-byte symbol src (s = len(src), even) into dst (chunkSize(s) bytes).
func toChunk(dst, src []byte) {
	s := len(src)
	full := s &^ 63
	copy(dst[:full], src[:full])
	if t := s - full; t > 0 {
		h := t / 2
		tail := dst[full : full+64]
		copy(tail[:h], src[full:full+h])
		clear(tail[h:32])
		copy(tail[32:32+h], src[full+h:s])
		clear(tail[32+h:])
	}
}

// fromChunk reads an s-byte symbol (s = len(dst)) back out of its chunk layout src.
func fromChunk(dst, src []byte) {
	s := len(dst)
	full := s &^ 63
	copy(dst[:full], src[:full])
	if t := s - full; t > 0 {
		h := t / 2
		copy(dst[full:full+h], src[full:full+h])
		copy(dst[full+h:s], src[full+32:full+32+h])
	}
}

// toChunks converts len(src)/s consecutive s-byte symbols into consecutive chunks in dst.
func toChunks(dst, src []byte, s int) {
	cs := chunkSize(s)
	if cs == s {
		copy(dst, src)
		return
	}
	for i, j := 0, 0; i < len(src); i, j = i+s, j+cs {
		toChunk(dst[j:j+cs], src[i:i+s])
	}
}

// fromChunks converts len(dst)/s consecutive chunks of src back into s-byte symbols in dst.
func fromChunks(dst, src []byte, s int) {
	cs := chunkSize(s)
	if cs == s {
		copy(dst, src)
		return
	}
	for i, j := 0, 0; i < len(dst); i, j = i+s, j+cs {
		fromChunk(dst[i:i+s], src[j:j+cs])
	}
}
