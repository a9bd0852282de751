package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/staking"
)

// The HTTP gateway commands (docs/gateway.md): `walrus publisher`, `walrus aggregator` and
// `walrus daemon` serve Walrus's HTTP API over a light-client session opened from the
// client configuration (--config client.yaml, like the other user commands), until
// SIGINT or SIGTERM.

func runPublisher(g *globals, args []string) error {
	return runGateway(g, "publisher", gateway.RolePublisher, args)
}

func runAggregator(g *globals, args []string) error {
	return runGateway(g, "aggregator", gateway.RoleAggregator, args)
}

func runDaemon(g *globals, args []string) error {
	return runGateway(g, "daemon", gateway.RoleDaemon, args)
}

// gatewayFlags are the flags of the three gateway commands (Walrus's names where it has
// the flag).
type gatewayFlags struct {
	bind            string
	maxBodyKiB      int64
	maxUploads      int
	maxReads        int
	maxReadSize     uint64
	jwtSecret       string
	jwtExpiringSec  int64
	jwtVerifyUpload bool
	jwtCacheSize    int
	logLevel        string
}

func newGatewayFlagSet(name string, role gateway.Role, f *gatewayFlags) *flag.FlagSet {
	fs := newFlagSet(name)
	fs.StringVar(&f.bind, "bind-address", gateway.DefaultBindAddress, "`address` to listen on (host:port; port 0 picks a free one)")
	if role&gateway.RolePublisher != 0 {
		fs.Int64Var(&f.maxBodyKiB, "max-body-size", gateway.DefaultMaxBodySize>>10, "largest blob a store accepts, in `KiB` (413 above)")
		fs.IntVar(&f.maxUploads, "max-concurrent-requests", gateway.DefaultMaxConcurrentUploads, "stores in progress at once (429 beyond)")
		fs.StringVar(&f.jwtSecret, "jwt-decode-secret", "", "require an HS256 JWT on stores, signed with this `secret` (hex after 0x, else the string's bytes)")
		fs.Int64Var(&f.jwtExpiringSec, "jwt-expiring-sec", 0, "if positive, tokens must carry iat and exp - iat must equal this many `seconds`")
		fs.BoolVar(&f.jwtVerifyUpload, "jwt-verify-upload", false, "check epochs, max_epochs, size and max_size of the token against the request")
		fs.IntVar(&f.jwtCacheSize, "jwt-cache-size", 100_000, "used token IDs (jti) remembered against replay")
	}
	if role&gateway.RoleAggregator != 0 {
		fs.IntVar(&f.maxReads, "max-concurrent-reads", gateway.DefaultMaxConcurrentReads, "reads in progress at once (429 beyond)")
		fs.Uint64Var(&f.maxReadSize, "max-blob-size", gateway.DefaultMaxReadSize, "largest blob returned, in `bytes` (403 above)")
	}
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	return fs
}

// gatewayConfig checks the flags and builds the gateway's configuration (backend unset).
func gatewayConfig(role gateway.Role, f *gatewayFlags) (gateway.Config, error) {
	cfg := gateway.Config{Role: role}
	if role&gateway.RolePublisher != 0 {
		if f.maxBodyKiB <= 0 || f.maxBodyKiB > 1<<30 {
			return cfg, fmt.Errorf("--max-body-size must be between 1 and %d KiB", 1<<30)
		}
		if f.maxUploads <= 0 {
			return cfg, errors.New("--max-concurrent-requests must be at least 1")
		}
		cfg.MaxBodySize, cfg.MaxConcurrentUploads = f.maxBodyKiB<<10, f.maxUploads
		if f.jwtSecret != "" {
			secret, err := gateway.ParseJWTSecret(f.jwtSecret)
			if err != nil || len(secret) == 0 {
				return cfg, errors.New("--jwt-decode-secret: want a non-empty string, or 0x and hex digits")
			}
			if f.jwtCacheSize <= 0 {
				return cfg, errors.New("--jwt-cache-size must be at least 1")
			}
			cfg.JWT = &gateway.JWTConfig{Secret: secret, ExpiringSec: f.jwtExpiringSec, VerifyUpload: f.jwtVerifyUpload, CacheSize: f.jwtCacheSize}
		} else if f.jwtVerifyUpload || f.jwtExpiringSec != 0 {
			return cfg, errors.New("--jwt-verify-upload and --jwt-expiring-sec need --jwt-decode-secret")
		}
	}
	if role&gateway.RoleAggregator != 0 {
		if f.maxReads <= 0 {
			return cfg, errors.New("--max-concurrent-reads must be at least 1")
		}
		if f.maxReadSize == 0 {
			return cfg, errors.New("--max-blob-size must be at least 1")
		}
		cfg.MaxConcurrentReads, cfg.MaxReadSize = f.maxReads, f.maxReadSize
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// runGateway serves role until SIGINT or SIGTERM, then stops accepting, lets requests in
// progress finish (bounded) and waits for background uploads.
func runGateway(g *globals, name string, role gateway.Role, args []string) error {
	var f gatewayFlags
	fs := newGatewayFlagSet(name, role, &f)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	cfg, err := gatewayConfig(role, &f)
	if err != nil {
		return err
	}
	if g.config == "" {
		return errors.New("no client configuration: pass --config FILE (client.yaml) or set WALRUS_CONFIG")
	}
	ctx, stop := signalContext()
	defer stop()
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	sess, err := client.Open(openCtx, g.config, client.OpenOptions{Logger: cfg.Logger})
	cancel()
	if err != nil {
		return err
	}
	defer sess.Close()
	if role&gateway.RolePublisher != 0 && sess.Ledger.Address() == (staking.Address{}) {
		return errors.New("the publisher stores with a wallet: the client configuration has no wallet_key_file")
	}
	backend := gateway.NewSession(sess)
	defer backend.Close()
	cfg.Reader, cfg.Publisher = backend, backend
	if role&gateway.RoleAggregator == 0 {
		cfg.Reader = nil
	}
	if role&gateway.RolePublisher == 0 {
		cfg.Publisher = nil
	}
	h, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.bind)
	if err != nil {
		return err
	}
	srv := gateway.NewServer(ln.Addr().String(), h, cfg.StoreTimeout)
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(g.stdout, "walrus %s listening on http://%s (API document: /v1/api); stop with SIGINT or SIGTERM\n", name, ln.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(g.stdout, "stopping %s\n", name)
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
	}
	return nil
}
