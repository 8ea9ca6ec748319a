package store

// What both backends share about the OpenID Provider's signing keys: the
// columns, the checks of a key set, and the comparison a replacement makes.

import (
	"fmt"
)

const signingKeyColumns = `id, algorithm, state, sealed, public_jwk, created_at, retire_at`

func scanSigningKeys(rows interface {
	scanner
	Next() bool
	Err() error
}) ([]SigningKeyRecord, error) {
	var out []SigningKeyRecord
	for rows.Next() {
		var k SigningKeyRecord
		var created, retire int64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.State, &k.Sealed, &k.Public, &created, &retire); err != nil {
			return nil, err
		}
		k.CreatedAt, k.RetireAt = fromMS(created), fromMS(retire)
		out = append(out, k)
	}
	return out, rows.Err()
}

// checkSigningKeys refuses a key set that ReplaceSigningKeys must not write.
func checkSigningKeys(keys []SigningKeyRecord) error {
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		var problem string
		switch {
		case k.ID == "":
			problem = "has no ID"
		case seen[k.ID]:
			problem = "has the ID of another key"
		case k.Algorithm == "":
			problem = "has no algorithm"
		case k.State != KeyNext && k.State != KeyActive && k.State != KeyRetired:
			problem = fmt.Sprintf("has the state %q, not next, active or retired", k.State)
		case len(k.Sealed) == 0:
			problem = "has no sealed private key"
		case len(k.Public) == 0:
			problem = "has no public key"
		case k.State == KeyRetired && ms(k.RetireAt) == 0:
			problem = "is retired without a RetireAt"
		case k.State != KeyRetired && ms(k.RetireAt) != 0:
			problem = "has a RetireAt but is not retired"
		}
		if problem != "" {
			return fmt.Errorf("%w: key %d (%q) %s", errBadSigningKeys, i, k.ID, problem)
		}
		seen[k.ID] = true
	}
	return nil
}

// keyState is what ReplaceSigningKeys compares of a stored key.
type keyState struct{ id, state string }

// sameKeys reports whether the stored keys are the expected ones, by ID and
// State, in any order.
func sameKeys(stored []keyState, expect []SigningKeyRecord) bool {
	if len(stored) != len(expect) {
		return false
	}
	m := make(map[string]string, len(stored))
	for _, k := range stored {
		m[k.id] = k.state
	}
	for _, e := range expect {
		state, ok := m[e.ID]
		if !ok || state != e.State {
			return false
		}
		delete(m, e.ID) // an ID twice in expect cannot match
	}
	return true
}
