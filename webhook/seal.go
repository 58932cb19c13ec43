package webhook

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// sealPrefix marks a secret encrypted at rest: enc:v1:<key id>:<base64 of
// the 12-byte nonce and the AES-256-GCM ciphertext>. The subscription's id
// is the additional data, so a ciphertext copied onto another row does not
// open.
const sealPrefix = "enc:v1:"

// sealer encrypts the API subscriptions' secrets with
// webhook_delivery.secret_keys; without keys it stores them as given.
type sealer struct {
	cur   string
	aeads map[string]cipher.AEAD
}

func newSealer(keys []config.WebhookKey) (*sealer, error) {
	s := &sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range keys {
		where := fmt.Sprintf("webhook_delivery.secret_keys[%d].key", i)
		raw, err := config.WebhookKeyBytes(where, config.Secret(k.Key))
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if i == 0 {
			s.cur = k.ID
		}
		s.aeads[k.ID] = aead
	}
	return s, nil
}

// seal is what the database keeps of subscription id's secret.
func (s *sealer) seal(id, secret string) (string, error) {
	if s.cur == "" {
		return secret, nil
	}
	aead := s.aeads[s.cur]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("webhook %s: secret: %w", id, err)
	}
	return sealPrefix + s.cur + ":" + base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), []byte(id))), nil
}

// open is subscription id's secret from what the database keeps (one
// stored before keys were configured is as given).
func (s *sealer) open(id, stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealPrefix)
	if !ok {
		return stored, nil
	}
	kid, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return "", fmt.Errorf("webhook %s: the stored secret is not %s<key id>:<data>", id, sealPrefix)
	}
	aead := s.aeads[kid]
	if aead == nil {
		return "", fmt.Errorf("webhook %s: its secret is encrypted with key %q, which webhook_delivery.secret_keys does not list", id, kid)
	}
	data, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(data) < aead.NonceSize() {
		return "", fmt.Errorf("webhook %s: the stored secret is not valid base64", id)
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
	if err != nil {
		return "", fmt.Errorf("webhook %s: the stored secret does not decrypt with key %q (another key under that id?)", id, kid)
	}
	return string(plain), nil
}

// current reports whether stored is sealed with the key that encrypts now
// (or, with no keys, is stored as given).
func (s *sealer) current(stored string) bool {
	if s.cur == "" {
		return !strings.HasPrefix(stored, sealPrefix)
	}
	return strings.HasPrefix(stored, sealPrefix+s.cur+":")
}

// rekey re-encrypts, once the subscriptions are loaded, every API secret
// not under the current key (one stored as given before keys were
// configured, or under a key listed after the first: a rotation), so the
// old key can then be removed. Their updated_at moves. A secret that does
// not open is left as it is (its deliveries fail, naming why).
func (s *Service) rekey(ctx context.Context, db store.Webhooks, api []store.WebhookSubscription) {
	n := 0
	for _, w := range api {
		if s.seal.current(w.Secret) {
			continue
		}
		plain, err := s.seal.open(w.ID, w.Secret)
		if err != nil {
			s.log.Error("webhook: cannot re-encrypt a secret", "subscription", w.ID, "err", err)
			continue
		}
		sealed, err := s.seal.seal(w.ID, plain)
		if err == nil {
			err = db.UpdateWebhook(ctx, &store.WebhookSubscription{ID: w.ID, URL: w.URL, Events: w.Events, Secret: sealed})
		}
		if err != nil {
			s.log.Warn("webhook: cannot re-encrypt a secret; tried again at the next start", "subscription", w.ID, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		s.log.Info("webhook: secrets re-encrypted with the current key", "subscriptions", n, "key", s.seal.cur)
	}
}
