package eventpattern

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir holds EventBridge pattern cases checked against AWS's
// TestEventPattern (see its SOURCES.md).
const corpusDir = "../../../shared/testdata/eventpatterns"

// stripJSON5 turns the corpus's JSON5 (line comments, trailing commas)
// into JSON.
func stripJSON5(src []byte) []byte {
	var out []byte
	inStr := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inStr {
			out = append(out, c)
			if c == '\\' && i+1 < len(src) {
				i++
				out = append(out, src[i])
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			out = append(out, '\n')
		case c == ',':
			j := i + 1
			for j < len(src) && (src[j] == ' ' || src[j] == '\n' || src[j] == '\t' || src[j] == '\r') {
				j++
			}
			// a comma before a closing bracket, possibly after a comment
			if j < len(src) && (src[j] == '}' || src[j] == ']') {
				continue
			}
			if j+1 < len(src) && src[j] == '/' && src[j+1] == '/' {
				k := j
				for k < len(src) {
					for k < len(src) && src[k] != '\n' {
						k++
					}
					for k < len(src) && (src[k] == ' ' || src[k] == '\n' || src[k] == '\t' || src[k] == '\r') {
						k++
					}
					if k+1 < len(src) && src[k] == '/' && src[k+1] == '/' {
						continue
					}
					break
				}
				if k < len(src) && (src[k] == '}' || src[k] == ']') {
					continue
				}
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

type corpusCase struct {
	label   string
	event   []byte
	pattern string
}

// pySerialize re-serializes JSON the way the recording sent it to AWS
// (Python's json.dumps: ", " and ": " separators, key order kept).
func pySerialize(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				b.WriteByte('{')
				first := true
				for dec.More() {
					k, _ := dec.Token()
					if !first {
						b.WriteString(", ")
					}
					first = false
					kb, _ := json.Marshal(k)
					b.Write(kb)
					b.WriteString(": ")
					if err := walk(); err != nil {
						return err
					}
				}
				dec.Token()
				b.WriteByte('}')
			case '[':
				b.WriteByte('[')
				first := true
				for dec.More() {
					if !first {
						b.WriteString(", ")
					}
					first = false
					if err := walk(); err != nil {
						return err
					}
				}
				dec.Token()
				b.WriteByte(']')
			}
		case json.Number:
			b.WriteString(v.String())
		case nil:
			b.WriteString("null")
		default:
			vb, _ := json.Marshal(v)
			b.Write(vb)
		}
		return nil
	}
	if err := walk(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.json5"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases under %s (%v)", corpusDir, err)
	}
	var cases []corpusCase
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Event        json.RawMessage
			EventPattern json.RawMessage
		}
		if err := json.Unmarshal(stripJSON5(src), &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, corpusCase{
			label:   strings.TrimSuffix(filepath.Base(f), ".json5"),
			event:   c.Event,
			pattern: pySerialize(t, c.EventPattern),
		})
	}
	ev, err := os.ReadFile(filepath.Join(corpusDir, "complex_multi_key_event.json"))
	if err != nil {
		t.Fatal(err)
	}
	pat, err := os.ReadFile(filepath.Join(corpusDir, "complex_multi_key_event_pattern.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, corpusCase{label: "complex_multi_key_event", event: ev, pattern: string(pat)})
	return cases
}

// awsMessages reads the messages AWS returned for the _EXC cases.
func awsMessages(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(corpusDir, "aws-recorded-exc-errors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]struct {
		Content map[string]struct {
			Exc struct {
				Error struct{ Code, Message string }
			} `json:"exception_message"`
		} `json:"recorded-content"`
	}
	if err := json.Unmarshal(src, &rec); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rec {
		for label, c := range r.Content {
			out[label] = c.Exc.Error.Message
		}
	}
	return out
}

// TestCorpus runs every case AWS answered: _EXC must fail to compile with
// AWS's message, _NEG must not match, the rest must match.
func TestCorpus(t *testing.T) {
	msgs := awsMessages(t)
	cases := loadCorpus(t)
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	counts := map[string]int{}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			p, err := Compile(c.pattern)
			switch {
			case strings.HasSuffix(c.label, "_EXC"):
				counts["exc"]++
				want, ok := msgs[c.label]
				if !ok {
					t.Fatalf("no recorded message for %s", c.label)
				}
				if err == nil {
					t.Fatalf("Compile(%s) succeeded; AWS said %q", c.pattern, want)
				}
				if err.(*Error).Message != want {
					t.Fatalf("Compile(%s):\n got %q\nwant %q", c.pattern, err.(*Error).Message, want)
				}
			default:
				if err != nil {
					t.Fatalf("Compile(%s): %v", c.pattern, err)
				}
				got, err := p.Match(c.event)
				if err != nil {
					t.Fatal(err)
				}
				want := !strings.HasSuffix(c.label, "_NEG")
				if want {
					counts["match"]++
				} else {
					counts["neg"]++
				}
				if got != want {
					t.Fatalf("Match = %v, AWS said %v\npattern %s\nevent %s", got, want, c.pattern, c.event)
				}
			}
		})
	}
	if counts["exc"] != 24 || counts["neg"] != 35 || counts["match"] != 47 {
		t.Errorf("case counts %v, want 24 _EXC, 35 _NEG, 47 matching (SOURCES.md)", counts)
	}
}
