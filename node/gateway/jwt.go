package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// JWT authentication of the publisher, after Walrus's authenticated publisher
// (docs/gateway.md "JWT"): every store carries `Authorization: Bearer <JWT>`, HS256 over a
// shared secret, with the claims of Walrus's publisher: exp and jti required, iat, epochs,
// max_epochs, size, max_size and send_object_to optional. A jti is accepted once (replay
// suppression) until its exp.

// JWTConfig turns on JWT authentication for PUT /v1/blobs.
type JWTConfig struct {
	// Secret is the HS256 key (--jwt-decode-secret; see ParseJWTSecret). Required.
	Secret []byte
	// ExpiringSec, if positive, requires iat and exp - iat == ExpiringSec (Walrus's
	// --jwt-expiring-sec).
	ExpiringSec int64
	// VerifyUpload checks the request against the claims epochs, max_epochs, size,
	// max_size and send_object_to (Walrus's --jwt-verify-upload).
	VerifyUpload bool
	// CacheSize bounds the replay cache of used jti values (default 100000); when it is
	// full, stores are refused (429) until entries expire.
	CacheSize int
	// MaxTokenLen bounds the token's length before any decoding (default 8 KiB).
	MaxTokenLen int
}

// ParseJWTSecret reads a secret as Walrus does: hex after "0x", else the string's bytes.
func ParseJWTSecret(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		return hex.DecodeString(rest)
	}
	return []byte(s), nil
}

// Claims are the JWT claims the publisher reads.
type Claims struct {
	Exp          *int64  `json:"exp"`
	Iat          *int64  `json:"iat,omitempty"`
	Nbf          *int64  `json:"nbf,omitempty"`
	Jti          string  `json:"jti"`
	SendObjectTo *string `json:"send_object_to,omitempty"`
	Epochs       *uint32 `json:"epochs,omitempty"`
	MaxEpochs    *uint32 `json:"max_epochs,omitempty"`
	Size         *uint64 `json:"size,omitempty"`
	MaxSize      *uint64 `json:"max_size,omitempty"`
}

// maxJTI bounds a jti kept in the replay cache.
const maxJTI = 256

// SignHS256 makes an HS256 JWT of claims (for tests and for operators' tooling).
func SignHS256(secret []byte, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	signing := head + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// jwtAuth verifies tokens and remembers used ones.
type jwtAuth struct {
	cfg JWTConfig
	now func() time.Time

	mu   sync.Mutex
	used map[string]int64 // jti -> exp (unix seconds)
}

func newJWTAuth(cfg JWTConfig, now func() time.Time) *jwtAuth {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.MaxTokenLen <= 0 {
		cfg.MaxTokenLen = 8 << 10
	}
	return &jwtAuth{cfg: cfg, now: now, used: map[string]int64{}}
}

// authenticate checks the request's bearer token: well formed, HS256, signature, exp,
// nbf, jti, and the configured lifetime. It does not consume the token.
func (a *jwtAuth) authenticate(r *http.Request) (*Claims, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, newError(http.StatusUnauthorized, ReasonMissingToken, "this publisher requires Authorization: Bearer <JWT>")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, newError(http.StatusUnauthorized, ReasonMissingToken, "the Authorization header is not a Bearer token")
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > a.cfg.MaxTokenLen {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token is too long")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token is not a JWS compact serialization")
	}
	enc := base64.RawURLEncoding
	headB, err1 := enc.DecodeString(parts[0])
	payB, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token is not base64url")
	}
	var head struct {
		Alg  string `json:"alg"`
		Crit []any  `json:"crit"`
	}
	if err := json.Unmarshal(headB, &head); err != nil {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token's header is not JSON")
	}
	if head.Alg != "HS256" || head.Crit != nil {
		// Never "none", never an algorithm the key is not for.
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token's algorithm must be HS256")
	}
	m := hmac.New(sha256.New, a.cfg.Secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(m.Sum(nil), sig) {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidSignature, "the token's signature does not verify")
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payB))
	if err := dec.Decode(&c); err != nil {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token's claims do not decode: "+err.Error())
	}
	if c.Exp == nil || c.Jti == "" {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token must carry exp and jti")
	}
	if len(c.Jti) > maxJTI {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidToken, "the token's jti is too long")
	}
	now := a.now().Unix()
	if *c.Exp <= now {
		return nil, newError(http.StatusUnauthorized, ReasonExpiredSignature, "the token has expired")
	}
	if c.Nbf != nil && *c.Nbf > now {
		return nil, newError(http.StatusUnauthorized, ReasonInvalidSignature, "the token is not valid yet (nbf)")
	}
	if a.cfg.ExpiringSec > 0 && (c.Iat == nil || *c.Exp-*c.Iat != a.cfg.ExpiringSec) {
		return nil, newError(http.StatusForbidden, ReasonInvalidExpiration, "exp - iat must equal the publisher's token lifetime")
	}
	if c.Size != nil && c.MaxSize != nil {
		return nil, newError(http.StatusForbidden, ReasonInvalidSizes, "the token carries both size and max_size")
	}
	if c.Epochs != nil && c.MaxEpochs != nil {
		return nil, newError(http.StatusForbidden, ReasonInvalidEpochs, "the token carries both epochs and max_epochs")
	}
	return &c, nil
}

// checkParams checks the query against the claims (VerifyUpload).
func (a *jwtAuth) checkParams(c *Claims, epochs uint32) error {
	if !a.cfg.VerifyUpload {
		return nil
	}
	if c.Epochs != nil && epochs != *c.Epochs {
		return newError(http.StatusForbidden, ReasonInvalidEpochs, "epochs differ from the token's")
	}
	if c.MaxEpochs != nil && epochs > *c.MaxEpochs {
		return newError(http.StatusForbidden, ReasonEpochsAboveMax, "epochs exceed the token's max_epochs")
	}
	if c.SendObjectTo != nil {
		return newError(http.StatusBadRequest, ReasonUnsupportedParameter, "send_object_to: walrus-go keeps blob objects with the publisher's wallet")
	}
	return nil
}

// sizeLimit is the largest body the claims allow (VerifyUpload), or -1.
func (a *jwtAuth) sizeLimit(c *Claims) int64 {
	if !a.cfg.VerifyUpload {
		return -1
	}
	switch {
	case c.MaxSize != nil:
		return int64(min(*c.MaxSize, 1<<62))
	case c.Size != nil:
		return int64(min(*c.Size, 1<<62))
	}
	return -1
}

// checkSize checks the body's length against the claims (VerifyUpload).
func (a *jwtAuth) checkSize(c *Claims, n int64) error {
	if !a.cfg.VerifyUpload {
		return nil
	}
	if c.MaxSize != nil && uint64(n) > *c.MaxSize {
		return newError(http.StatusForbidden, ReasonMaxSizeExceeded, "the blob is larger than the token's max_size")
	}
	if c.Size != nil && uint64(n) != *c.Size {
		return newError(http.StatusForbidden, ReasonSizeIncorrect, "the blob's size differs from the token's size")
	}
	return nil
}

// consume records c's jti as used; a jti seen before, and not yet expired, is refused.
// The cache drops expired entries when it is full, and refuses new ones (429) if it is
// still full.
func (a *jwtAuth) consume(c *Claims) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().Unix()
	if exp, ok := a.used[c.Jti]; ok && exp > now {
		return newError(http.StatusForbidden, ReasonTokenAlreadyUsed, "this token was used already")
	}
	if len(a.used) >= a.cfg.CacheSize {
		for k, exp := range a.used {
			if exp <= now {
				delete(a.used, k)
			}
		}
		if len(a.used) >= a.cfg.CacheSize {
			return retryable(http.StatusTooManyRequests, ReasonTokenCacheFull, "too many unexpired tokens in use; retry later")
		}
	}
	a.used[c.Jti] = *c.Exp
	return nil
}
