package stubprovider

import (
	"encoding/json"
	"io"
	"net/http"
)

// Answer is a canned answer. As an http.Handler it answers every request the same.
type Answer struct {
	Status int               // 200 when zero
	Header map[string]string // Content-Type among them
	Body   string
}

// Reply is an answer with a status, a Content-Type (none when empty) and a body.
func Reply(status int, contentType, body string) Answer {
	a := Answer{Status: status, Body: body}
	if contentType != "" {
		a.Header = map[string]string{"Content-Type": contentType}
	}
	return a
}

// JSON is an answer with a status and v as a JSON body.
func JSON(status int, v any) Answer {
	body, err := json.Marshal(v)
	if err != nil {
		panic("stubprovider: the answer is no JSON: " + err.Error())
	}
	return Reply(status, "application/json", string(body))
}

func (a Answer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, a.Body)
}

// WriteJSON answers with status and v as a JSON body, from a handler that decides
// per request.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
