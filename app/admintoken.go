package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hotline-dev/hotline/config"
)

// The first-run admin token. A newcomer's `make run` has no http.tokens,
// and without one the API and the wallboard refuse everything. So when no
// token is configured, Hotline creates one admin (write) token, keeps it in
// a file only its user can read (config.AdminTokenFile: admin-token in the
// data directory, next to the spool and the SQLite database), and logs it
// with a curl line and the wallboard's address once, when it is created.
// Later starts load the same token and log only where it is. Configuring
// any token turns this off (the file is then ignored, not deleted).

// adminTokenName names the first-run token in logs and GET /api/v1/session.
const adminTokenName = "admin"

// adminTokens returns the tokens the API serves: the configured ones, or
// the first-run admin token (loaded, or created and announced).
func adminTokens(cfg config.Config, self string, log *slog.Logger) ([]config.Token, error) {
	if len(cfg.HTTP.Tokens) > 0 {
		return cfg.HTTP.Tokens, nil
	}
	path := cfg.AdminTokenFile()
	secret, created, err := loadOrCreateToken(path)
	if err != nil {
		return nil, fmt.Errorf("first-run admin token (http.token_file %s): %w", path, err)
	}
	if created {
		log.Warn("no http.tokens configured: created an admin API token (scope write); this is the only time it is logged",
			"file", path, "token", secret,
			"try", fmt.Sprintf("curl -H 'Authorization: Bearer %s' %s/api/v1/queues", secret, self),
			"wallboard", self+"/wallboard (sign in with the token)",
			"later", "the token stays in the file and is used on every start until http.tokens is configured")
	} else {
		log.Info("no http.tokens configured: the admin API token kept in the file is in use (scope write)", "file", path,
			"use", fmt.Sprintf("curl -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/queues", path, self))
	}
	return []config.Token{{Name: adminTokenName, Secret: secret, Scope: "write"}}, nil
}

// loadOrCreateToken reads the token kept at path, or creates one there
// (mode 0600, in a directory created 0700) when there is no file.
func loadOrCreateToken(path string) (secret string, created bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		secret := strings.TrimSpace(string(b))
		if secret == "" || strings.ContainsAny(secret, " \t\r\n") || strings.HasPrefix(secret, "env:") {
			return "", false, errors.New("the file must hold one token (delete it to have a new one made)")
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("the file is readable by others (mode %v): chmod 600 it", fi.Mode().Perm())
		}
		return secret, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, err
	}
	buf := make([]byte, 32)
	_, _ = rand.Read(buf) // never fails (crypto/rand, Go ≥ 1.24)
	secret = "hl_" + base64.RawURLEncoding.EncodeToString(buf)
	if err := writeSecretFile(path, secret+"\n"); err != nil {
		return "", false, err
	}
	return secret, true, nil
}

// writeSecretFile writes data to path atomically (a temporary file in the
// same directory, fsync'd, renamed), readable by the owner only.
func writeSecretFile(path, data string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".admin-token-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename: nothing there
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename survives a crash
		_ = d.Close()
	}
	return nil
}
