package seal

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRecords(t *testing.T) {
	s, err := New([][]byte{bytes.Repeat([]byte("k"), MinKeyLen)})
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("profile "), 4096) // larger than a token may carry
	rec, err := s.SealRecord("row:a", payload, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenRecord("row:a", rec)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("OpenRecord: %v", err)
	}
	if _, err := s.OpenRecord("row:b", rec); !errors.Is(err, ErrInvalid) {
		t.Errorf("a record moved to another key opened: %v", err)
	}
	edited := bytes.Clone(rec)
	edited[len(edited)/2] ^= 1
	if _, err := s.OpenRecord("row:a", edited); !errors.Is(err, ErrInvalid) {
		t.Errorf("an edited record opened: %v", err)
	}
	if _, err := s.OpenRecord("row:a", []byte(`{"c":"acme","u":{"id":"admin"}}`)); err == nil {
		t.Error("a plain JSON row opened")
	}
	if _, err := s.SealRecord("row:a", make([]byte, MaxRecordLen+1), time.Hour); err == nil {
		t.Error("an oversized record was sealed")
	}
	if _, err := s.OpenRecord("row:a", make([]byte, MaxRecordLen+minRawLen+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("an oversized record: %v", err)
	}
}
