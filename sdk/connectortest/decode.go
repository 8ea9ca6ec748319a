package connectortest

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDecodings is how many encodings deep the kit looks for a secret in a
// string: base64 of a URL-encoded form that was JSON-escaped is three.
const maxDecodings = 3

// decodedBudget bounds the bytes of the views of one string, so that a huge
// profile costs the check time in proportion, not in powers.
const decodedBudget = 4 << 20

// view is a string as it reads after some decodings, outermost first.
type view struct {
	how  []string
	text string
}

// decodings returns text, then everything a careless connector could have made
// of a secret on its way into text: JSON escapes (\u002f for "/"), URL encoding
// and base64 (padded or not, standard or URL alphabet, at any offset), and
// those nested, up to maxDecodings deep. Decoding is lenient: what does not
// decode is kept as it is, or left out.
func decodings(text string) []view {
	var out []view
	budget := decodedBudget
	var unwrap func(s string, how []string)
	unwrap = func(s string, how []string) {
		if budget -= len(s); budget < 0 && len(how) > 0 {
			return
		}
		out = append(out, view{how, s})
		if len(how) == maxDecodings || budget < 0 {
			return
		}
		next := func(label, decoded string) {
			unwrap(decoded, append(slices.Clip(how), label))
		}
		if strings.Contains(s, `\`) {
			if u := jsonUnescape(s); u != s {
				next("JSON-escaped", u)
			}
		}
		if strings.Contains(s, "%") {
			if u := percentDecode(s); u != s {
				next("URL-encoded", u)
			}
		}
		for _, b := range base64Decodings(s) {
			next("base64-encoded", b)
		}
	}
	unwrap(text, nil)
	return out
}

// jsonUnescape undoes the escapes of a JSON string wherever they are in s,
// keeping what is not one.
func jsonUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; c {
		case '"', '\\', '/':
			b.WriteByte(c)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := unicodeEscape(s[i:])
			if n == 0 {
				b.WriteByte(s[i])
				continue
			}
			b.WriteRune(r)
			i += n - 2
		default:
			b.WriteByte(s[i])
			continue
		}
		i++
	}
	return b.String()
}

// unicodeEscape reads the \uXXXX escape (or surrogate pair of two) at the start
// of s, and says how many bytes it took: none when there is none.
func unicodeEscape(s string) (rune, int) {
	hex := func(s string) (rune, bool) {
		if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex(s)
	if !ok {
		return 0, 0
	}
	if 0xd800 <= r && r < 0xdc00 {
		if lo, ok := hex(s[6:]); ok && 0xdc00 <= lo && lo < 0xe000 {
			return (r-0xd800)<<10 | (lo - 0xdc00) + 0x10000, 12
		}
		return utf8.RuneError, 6
	}
	return r, 6
}

// percentDecode undoes the %XX escapes of s, keeping a "%" that starts none and
// "+" (a space only in forms; a secret with "+" shows as it is anyway).
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// minBase64 is the shortest run of base64 the kit decodes: the encoding of the
// shortest secret it looks for.
const minBase64 = (minNeedle*4 + 2) / 3

// base64Decodings decodes every run of base64 in s long enough to hold a secret,
// in the standard and the URL alphabet, padded or not. A run is decoded from each
// of its first four characters too, so that base64 glued to letters or digits in
// front of it (tok_eyJ...) decodes as well.
func base64Decodings(s string) []string {
	var out []string
	for _, enc := range []struct {
		alphabet func(byte) bool
		encoding *base64.Encoding
	}{
		{isStdBase64, base64.RawStdEncoding},
		{isURLBase64, base64.RawURLEncoding},
	} {
		for _, run := range runs(s, enc.alphabet) {
			if len(run) < minBase64 {
				continue
			}
			if enc.encoding == base64.RawURLEncoding && !strings.ContainsAny(run, "-_") {
				continue // the standard alphabet's decoding was the same
			}
			for offset := range 4 {
				part := run[offset:]
				if len(part) < minBase64 {
					break
				}
				if len(part)%4 == 1 {
					part = part[:len(part)-1] // no whole byte in the last character
				}
				if b, err := enc.encoding.DecodeString(part); err == nil && len(b) > 0 {
					out = append(out, string(b))
				}
			}
		}
	}
	return out
}

func isStdBase64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }
func isURLBase64(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// runs returns the longest stretches of s whose every byte is in.
func runs(s string, in func(byte) bool) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		switch {
		case i < len(s) && in(s[i]):
			if start < 0 {
				start = i
			}
		case start >= 0:
			out = append(out, s[start:i])
			start = -1
		}
	}
	return out
}
