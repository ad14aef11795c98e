package demo

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"a\nb\tc\r", `"a\nb\tc\r"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"é€😀", `"é€😀"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "abc", `"\`, "\x00\n", "é\xff", "\u2028", "<script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString([]byte("x"), s)[1:]
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s) // encoding/json replaces invalid bytes the same way
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("round trip of %q gave %q, want %q", s, got, want)
		}
	})
}

func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		sec := r.Int64N(8_000_000_000) // 1970 to 2223
		want := time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05Z")
		if got := string(appendTime(nil, sec)); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", sec, got, want)
		}
	}
}

func TestAppendUUID(t *testing.T) {
	got := string(appendUUID(nil, 0x0123456789abcdef, 0xfedcba9876543210))
	if want := "01234567-89ab-4def-bedc-ba9876543210"; got != want {
		t.Errorf("appendUUID = %s, want %s", got, want)
	}
}

func TestJSONWriter(t *testing.T) {
	var w jw
	w.open()
	w.str("a", "x")
	w.arr("l")
	w.elemStr("1")
	w.elemObj()
	w.num("n", -3)
	w.close()
	w.closeArr()
	w.obj("o")
	w.close()
	w.float("f", 10)
	w.boolean("b", true)
	w.null("z")
	w.close()
	if got, want := string(w.b), `{"a":"x","l":["1",{"n":-3}],"o":{},"f":10.0,"b":true,"z":null}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// The timeline draws exactly n times, in order, inside the span.
func TestTimeline(t *testing.T) {
	for _, tc := range []struct{ start, dur int64 }{{1714953600, 86400}, {1714953600, 1}, {1714953600, 59}, {0, 40 * 86400}} {
		tl := newTimeline(rand.New(rand.NewPCG(3, 4)), tc.start, tc.dur, 5000)
		prev := tc.start
		for range 5000 {
			v := tl.next()
			if v < prev || v >= tc.start+tc.dur {
				t.Fatalf("span %+v: time %d after %d", tc, v, prev)
			}
			prev = v
		}
	}
}
