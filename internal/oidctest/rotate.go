package oidctest

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// RotateKeys replaces every signing key of the provider with new ones (new key
// ids): ID tokens issued from now on are signed by keys a client has not seen, and
// the old keys leave the JWK set. Start the provider with Config.KeyRotation.
func (p *Provider) RotateKeys(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+"/test/rotate-keys", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: httpTimeout}).Do(req)
	if err != nil {
		return fmt.Errorf("oidctest: RotateKeys: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oidctest: RotateKeys: %s: %s (was the provider started with KeyRotation?)", resp.Status, snippet(body))
	}
	return nil
}
