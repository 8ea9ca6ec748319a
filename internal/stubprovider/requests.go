package stubprovider

import (
	"net/http"
	"net/url"
)

// Request is what the provider was sent.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values // the form-encoded body's values; empty for any other body
	Header http.Header
	Body   []byte // the body's first megabyte
}

// Requests are the requests to path, oldest first.
func (p *Provider) Requests(path string) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Request
	for _, r := range p.requests {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Last is the latest request to path, and whether there was one.
func (p *Provider) Last(path string) (Request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.requests) - 1; i >= 0; i-- {
		if p.requests[i].Path == path {
			return p.requests[i], true
		}
	}
	return Request{}, false
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
