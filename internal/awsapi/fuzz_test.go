package awsapi

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeObject: DecodeObject never panics, and whatever it accepts is
// a JSON object (or empty).
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"Name":"x","MaxResults":3,"StartTime":1.5,"Tags":[{"Key":"k","Value":"v"}]}`,
		`[`, `{"Tags":[[[[]]]]}`, `{"StartTime":"x"}`, `{"MaxResults":1e10}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in echoIn
		if err := DecodeObject(body, &in); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if len(body) > 0 && json.Unmarshal(body, &m) != nil {
			// Whitespace-only bodies count as {}.
			for _, c := range body {
				if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
					t.Fatalf("accepted %q, which is not a JSON object", body)
				}
			}
		}
	})
}
