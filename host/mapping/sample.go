package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/idplug/idplug/internal/jsonwords"
	"github.com/idplug/idplug/sdk"
)

// MaxSampleBytes bounds a dry run's input.
const MaxSampleBytes = 1 << 20

// Sample is a dry run's input: a profile as a connector returns it, and the
// provider's raw data: {"profile": {"id": ..., "name": ...}, "raw": {...}}.
type Sample struct {
	Profile sdk.UserInfo    `json:"profile"`
	Raw     json.RawMessage `json:"raw"`
}

// ReadSample decodes a sample, refusing unknown keys (a misspelt "profile"
// would otherwise map an empty profile) and a profile without an id.
func ReadSample(r io.Reader) (sdk.UserInfo, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSampleBytes+1))
	if err != nil {
		return sdk.UserInfo{}, err
	}
	if len(data) > MaxSampleBytes {
		return sdk.UserInfo{}, fmt.Errorf("the sample is over %d bytes", MaxSampleBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Sample
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return sdk.UserInfo{}, errors.New(`the sample is empty; it is {"profile": {"id": ...}, "raw": {...}}`)
		}
		return sdk.UserInfo{}, fmt.Errorf(`the sample is not {"profile": {...}, "raw": {...}}: %s`, sampleProblem(err, data))
	}
	if dec.More() {
		return sdk.UserInfo{}, errors.New("the sample must hold one JSON object")
	}
	return s.UserInfo()
}

// UserInfo is the sample as a connector's profile, raw as its RawData.
func (s Sample) UserInfo() (sdk.UserInfo, error) {
	u := s.Profile
	if u.ID == "" {
		return sdk.UserInfo{}, errors.New("profile.id is required: a connector's profile always has an id")
	}
	if len(s.Raw) > 0 && !bytes.Equal(bytes.TrimSpace(s.Raw), []byte("null")) {
		u.RawData = s.Raw
	}
	return u, nil
}

// Output is what a dry run prints, and what /v1 user-info answers beside the
// tokens: the mapped profile (without the raw data it was given) and the claims.
type Output struct {
	UserInfo sdk.UserInfo   `json:"userInfo"`
	Claims   map[string]any `json:"claims"`
}

// Output is r for a dry run.
func (r Result) Output() Output {
	u := r.UserInfo
	u.RawData = nil
	return Output{UserInfo: u, Claims: r.Claims}
}

// sampleProblem says what err found in the sample data in the sample's terms
// (a key's path, a line and column), not encoding/json's (Go types).
func sampleProblem(err error, data []byte) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		_, got := jsonwords.TypeError(te)
		return fmt.Sprintf("it is %s, not an object", got)
	case errors.As(err, &te):
		want, got := jsonwords.TypeError(te)
		return fmt.Sprintf("%s must be %s, not %s", te.Field, want, got)
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return fmt.Sprintf("line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends before it is complete"
	}
	if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown key " + key + "; the sample has profile and raw"
	}
	return err.Error()
}

// position is the 1-based line and column of byte offset in data.
func position(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	// The offset counts the byte found wrong: its column is the offset's.
	return line, int(offset) - 1 - bytes.LastIndexByte(before, '\n')
}
