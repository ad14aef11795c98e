package capture_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/event"
)

// fixture is one call and the CloudTrail record AWS documents for it
// (testdata/*.json): the request, who made it and how, the upstream's
// answer, and the record.
type fixture struct {
	Source  string `json:"source"`
	Notes   string `json:"notes"`
	Request struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Service string            `json:"service"`
		Header  map[string]string `json:"header"`
		Body    string            `json:"body"`
	} `json:"request"`
	Caller struct {
		Principal        *auth.Principal    `json:"principal"`
		AccessKeyID      string             `json:"accessKeyId"`
		Region           string             `json:"region"`
		SourceIP         string             `json:"sourceIP"`
		UserAgent        string             `json:"userAgent"`
		TLS              *awsapi.TLSDetails `json:"tls"`
		AuthMethod       string             `json:"authMethod"`
		SignatureVersion string             `json:"signatureVersion"`
		Time             time.Time          `json:"time"`
		EventID          string             `json:"eventID"`
		RequestID        string             `json:"requestID"`
	} `json:"caller"`
	Answer struct {
		Status   int               `json:"status"`
		Header   map[string]string `json:"header"`
		Body     string            `json:"body"`
		BytesIn  int64             `json:"bytesIn"`
		BytesOut int64             `json:"bytesOut"`
	} `json:"answer"`
	// Record is the record as AWS documents it.
	Record json.RawMessage `json:"record"`
	// IgnoreValues are paths (a.b.c) whose values may differ from the
	// documented ones (their key and type must not).
	IgnoreValues []string `json:"ignoreValues"`
	// Added are fields of ours the documented record lacks because it
	// predates them (readOnly, eventCategory, ... were added to
	// CloudTrail's format after some of AWS's examples were written).
	Added []string `json:"added"`
	// Omitted are fields of the documented record no proxy can know
	// (S3's internal aclRequired, ...).
	Omitted []string `json:"omitted"`
}

// exchange builds the Exchange the fixture describes, identifying its
// request with Identify.
func (f *fixture) exchange(t testing.TB) *capture.Exchange {
	r := httptest.NewRequest(f.Request.Method, f.Request.URL, strings.NewReader(f.Request.Body))
	for k, v := range f.Request.Header {
		r.Header.Set(k, v)
	}
	var body []byte
	if f.Request.Body != "" {
		body = []byte(f.Request.Body)
	}
	c := capture.Identify(r, f.Request.Service, body, nil)
	h := http.Header{}
	for k, v := range f.Answer.Header {
		h.Set(k, v)
	}
	ex := &capture.Exchange{
		Call: c, Principal: f.Caller.Principal, AccessKeyID: f.Caller.AccessKeyID, Region: f.Caller.Region,
		SourceIP: f.Caller.SourceIP, UserAgent: f.Caller.UserAgent, Host: r.Host, TLS: f.Caller.TLS,
		AuthMethod: f.Caller.AuthMethod, SignatureVersion: f.Caller.SignatureVersion, Time: f.Caller.Time,
		EventID: f.Caller.EventID, RequestID: f.Caller.RequestID, Status: f.Answer.Status, ResponseHeader: h,
		BytesIn: f.Answer.BytesIn, BytesOut: f.Answer.BytesOut,
	}
	if f.Answer.Body != "" {
		ex.ResponseBody = []byte(f.Answer.Body)
	}
	return ex
}

func loadFixtures(t testing.TB) map[string]*fixture {
	paths, err := filepath.Glob("testdata/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	out := map[string]*fixture{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = f
	}
	return out
}

// TestRecordsMatchAWSExamples compares the record of each fixture's call
// with the record AWS documents for it, field by field: the same keys at
// every depth, the same JSON types, and the same values except where the
// fixture says they may differ (eventVersion: ours is
// awsapi.AuditEventVersion).
func TestRecordsMatchAWSExamples(t *testing.T) {
	for name, f := range loadFixtures(t) {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw := capture.Record(f.exchange(t))
			if _, err := event.Parse(raw); err != nil {
				t.Errorf("the store refuses the record: %v", err)
			}
			got := decode(t, raw)
			want := decode(t, f.Record)
			ignore := map[string]bool{"eventVersion": true}
			for _, p := range f.IgnoreValues {
				ignore[p] = true
			}
			gm, wm := got.(map[string]any), want.(map[string]any)
			for _, k := range f.Added {
				if _, ok := gm[k]; !ok {
					t.Errorf("%s: listed as added, but our record has no %s", name, k)
				}
				delete(gm, k)
			}
			for _, k := range f.Omitted {
				deletePath(wm, k)
			}
			for _, d := range diffJSON("", got, want, ignore) {
				t.Error(d)
			}
			if t.Failed() {
				b, _ := json.MarshalIndent(got, "", "  ")
				t.Logf("our record:\n%s", b)
			}
		})
	}
}

func decode(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("record is not JSON: %v\n%s", err, b)
	}
	return v
}

func deletePath(m map[string]any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// diffJSON lists how got differs from want: missing and extra keys,
// other JSON types, other values (except at paths in ignore).
func diffJSON(path string, got, want any, ignore map[string]bool) []string {
	at := path
	if at == "" {
		at = "(record)"
	}
	if kind(got) != kind(want) {
		return []string{fmt.Sprintf("%s: %s %v, want %s %v", at, kind(got), got, kind(want), want)}
	}
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		keys := map[string]bool{}
		for k := range g {
			keys[k] = true
		}
		for k := range w {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("%s: missing (want %v)", p, wv))
			case !wok:
				out = append(out, fmt.Sprintf("%s: not in the documented record (ours %v)", p, gv))
			default:
				out = append(out, diffJSON(p, gv, wv, ignore)...)
			}
		}
	case []any:
		g := got.([]any)
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %d elements, want %d", at, len(g), len(w))}
		}
		for i := range w {
			out = append(out, diffJSON(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], ignore)...)
		}
	default:
		if !ignore[path] && !reflect.DeepEqual(got, want) {
			out = append(out, fmt.Sprintf("%s: %v, want %v", at, got, want))
		}
	}
	return out
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
