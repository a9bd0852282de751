package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/node/gateway"
)

func TestGatewayCommandsHelp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		not   []string
	}{
		{"publisher", []string{"-bind-address", "-max-body-size", "-max-concurrent-requests", "-jwt-decode-secret", "-jwt-expiring-sec", "-jwt-verify-upload"}, []string{"-max-concurrent-reads"}},
		{"aggregator", []string{"-bind-address", "-max-concurrent-reads", "-max-blob-size"}, []string{"-jwt-decode-secret", "-max-body-size"}},
		{"daemon", []string{"-bind-address", "-max-body-size", "-jwt-decode-secret", "-max-concurrent-reads"}, nil},
	} {
		var out, errb bytes.Buffer
		if code := run([]string{tc.name, "-h"}, &out, &errb); code != 0 {
			t.Errorf("%s -h: exit %d, %s", tc.name, code, errb.String())
			continue
		}
		s := out.String()
		if !strings.Contains(s, "Usage: walrus "+tc.name) || !strings.Contains(s, gateway.DefaultBindAddress) {
			t.Errorf("%s -h:\n%s", tc.name, s)
		}
		for _, f := range tc.flags {
			if !strings.Contains(s, f) {
				t.Errorf("%s -h lacks %s:\n%s", tc.name, f, s)
			}
		}
		for _, f := range tc.not {
			if strings.Contains(s, f+" ") {
				t.Errorf("%s -h offers %s, which is not its role's", tc.name, f)
			}
		}
	}
}

func TestGatewayCommandsRefuseBadFlags(t *testing.T) {
	t.Setenv("WALRUS_CONFIG", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"daemon"}, "--config"},
		{[]string{"aggregator"}, "--config"},
		{[]string{"publisher", "--max-body-size", "0"}, "--max-body-size"},
		{[]string{"publisher", "--max-concurrent-requests", "0"}, "--max-concurrent-requests"},
		{[]string{"publisher", "--jwt-verify-upload"}, "--jwt-decode-secret"},
		{[]string{"publisher", "--jwt-decode-secret", "0xzz"}, "--jwt-decode-secret"},
		{[]string{"aggregator", "--max-concurrent-reads", "0"}, "--max-concurrent-reads"},
		{[]string{"aggregator", "--jwt-decode-secret", "x"}, "flag provided but not defined"},
		{[]string{"daemon", "--log-level", "loud"}, "--log-level"},
		{[]string{"daemon", "extra"}, "unexpected arguments"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1", tc.args, code)
		}
		if s := errb.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, tc.want) {
			t.Errorf("%v: stderr %q, want one line mentioning %q", tc.args, s, tc.want)
		}
	}
}

func TestGatewayConfigFromFlags(t *testing.T) {
	f := gatewayFlags{maxBodyKiB: 64, maxUploads: 3, maxReads: 5, maxReadSize: 1 << 20, jwtSecret: "0x0102",
		jwtExpiringSec: 60, jwtVerifyUpload: true, jwtCacheSize: 10, logLevel: "warn"}
	cfg, err := gatewayConfig(gateway.RoleDaemon, &f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxBodySize != 64<<10 || cfg.MaxConcurrentUploads != 3 || cfg.MaxConcurrentReads != 5 || cfg.MaxReadSize != 1<<20 ||
		cfg.JWT == nil || !bytes.Equal(cfg.JWT.Secret, []byte{1, 2}) || cfg.JWT.ExpiringSec != 60 || !cfg.JWT.VerifyUpload || cfg.JWT.CacheSize != 10 {
		t.Fatalf("config: %+v, JWT %+v", cfg, cfg.JWT)
	}
	f.jwtSecret = "plain"
	if cfg, err = gatewayConfig(gateway.RolePublisher, &f); err != nil || string(cfg.JWT.Secret) != "plain" {
		t.Fatalf("plain secret: %v %+v", err, cfg.JWT)
	}
}
