package eventpattern

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// randPatterns builds patterns over a small vocabulary so that events hit
// them often: exact values (indexable), operators (scan list) and "$or".
type gen struct{ r *rand.Rand }

var (
	vocabKeys   = []string{"source", "detail-type", "detail.eventName", "detail.eventSource", "detail.userIdentity.type", "detail.errorCode", "detail.n", "detail.ip", "resources"}
	vocabValues = []string{"aws.iam", "aws.s3", "AWS API Call via CloudTrail", "CreateUser", "DeleteTrail", "Root", "AccessDenied", "iam.amazonaws.com", "x"}
)

func (g gen) leafValue(key string) string {
	switch g.r.Intn(9) {
	case 0:
		return fmt.Sprintf(`{"prefix":%q}`, vocabValues[g.r.Intn(len(vocabValues)-1)][:2])
	case 1:
		return fmt.Sprintf(`{"anything-but":%q}`, vocabValues[g.r.Intn(len(vocabValues))])
	case 2:
		return fmt.Sprintf(`{"numeric":[">",%d]}`, g.r.Intn(10))
	case 3:
		return fmt.Sprintf(`{"exists":%v}`, g.r.Intn(2) == 0)
	case 4:
		return `{"cidr":"10.0.0.0/8"}`
	case 5:
		return fmt.Sprintf(`{"equals-ignore-case":%q}`, strings.ToUpper(vocabValues[g.r.Intn(len(vocabValues))]))
	case 6:
		return fmt.Sprint(g.r.Intn(10))
	}
	return fmt.Sprintf("%q", vocabValues[g.r.Intn(len(vocabValues))])
}

// nest turns {"a.b": v} into {"a":{"b": v}}.
func nest(fields map[string]string) string {
	tree := map[string]any{}
	for k, v := range fields {
		parts := strings.Split(k, ".")
		node := tree
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = v
	}
	var render func(map[string]any) string
	render = func(m map[string]any) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:", k)
			switch v := m[k].(type) {
			case string:
				b.WriteString(v)
			case map[string]any:
				b.WriteString(render(v))
			}
		}
		b.WriteByte('}')
		return b.String()
	}
	return render(tree)
}

func (g gen) fields(n int) map[string]string {
	fields := map[string]string{}
	for i := 0; i < n; i++ {
		k := vocabKeys[g.r.Intn(len(vocabKeys))]
		var alts []string
		for j := 0; j <= g.r.Intn(3); j++ {
			alts = append(alts, g.leafValue(k))
		}
		fields[k] = "[" + strings.Join(alts, ",") + "]"
	}
	return fields
}

func (g gen) pattern() string {
	f := g.fields(1 + g.r.Intn(3))
	if g.r.Intn(5) == 0 {
		// drop keys that would conflict with the "$or" key's nesting
		p := nest(f)
		return p[:len(p)-1] + `,"$or":[` + nest(g.fields(1)) + "," + nest(g.fields(2)) + "]}"
	}
	return nest(f)
}

func (g gen) event() string {
	fields := map[string]string{}
	for _, k := range vocabKeys {
		if g.r.Intn(4) == 0 {
			continue
		}
		var v string
		switch g.r.Intn(6) {
		case 0:
			v = fmt.Sprint(g.r.Intn(10))
		case 1:
			v = fmt.Sprintf(`"10.%d.0.1"`, g.r.Intn(3))
		case 2:
			v = fmt.Sprintf(`[%q,%q]`, vocabValues[g.r.Intn(len(vocabValues))], vocabValues[g.r.Intn(len(vocabValues))])
		case 3:
			v = "null"
		default:
			v = fmt.Sprintf("%q", vocabValues[g.r.Intn(len(vocabValues))])
		}
		fields[k] = v
	}
	return nest(fields)
}

// TestSetMatchesBruteForce: a Set answers exactly what matching every
// pattern one by one answers, while patterns come and go.
func TestSetMatchesBruteForce(t *testing.T) {
	g := gen{rand.New(rand.NewSource(14))}
	set := NewSet()
	all := map[string]*Pattern{}
	scanned, matched := 0, 0
	for round := 0; round < 40; round++ {
		for i := 0; i < 25; i++ {
			src := g.pattern()
			p, err := Compile(src)
			if err != nil {
				continue // e.g. a key given both a value and an object
			}
			id := fmt.Sprintf("p%03d", g.r.Intn(400))
			set.Add(id, p)
			all[id] = p
		}
		for i := 0; i < 5; i++ {
			id := fmt.Sprintf("p%03d", g.r.Intn(400))
			set.Remove(id)
			delete(all, id)
		}
		if set.Len() != len(all) {
			t.Fatalf("Len %d, want %d", set.Len(), len(all))
		}
		for i := 0; i < 50; i++ {
			ev := []byte(g.event())
			got, err := set.Matches(ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for id, p := range all {
				ok, err := p.Match(ev)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("event %s\nSet.Matches %v\nbrute force %v", ev, got, want)
			}
			scanned++
			matched += len(want)
		}
	}
	if matched < scanned {
		t.Fatalf("only %d matches over %d events: the test patterns are too narrow to mean anything", matched, scanned)
	}
	indexed := 0
	for _, byVal := range set.index {
		for _, ms := range byVal {
			indexed += len(ms)
		}
	}
	if indexed == 0 || len(set.scan) == 0 {
		t.Fatalf("indexed %d, scanned %d: both paths must be exercised", indexed, len(set.scan))
	}
}

// TestSetIndexSkips: an event meets only the patterns indexed under its
// values (and the scan list).
func TestSetIndexSkips(t *testing.T) {
	set := NewSet()
	for i := 0; i < 100; i++ {
		p, err := Compile(fmt.Sprintf(`{"detail":{"eventName":["Op%d"]}}`, i))
		if err != nil {
			t.Fatal(err)
		}
		set.Add(fmt.Sprint(i), p)
	}
	if len(set.scan) != 0 {
		t.Fatalf("%d patterns on the scan list", len(set.scan))
	}
	got, err := set.Matches([]byte(`{"detail":{"eventName":"Op42"}}`), nil)
	if err != nil || !slices.Equal(got, []string{"42"}) {
		t.Fatalf("Matches = %v, %v", got, err)
	}
	set.Add("42", mustCompile(t, `{"detail":{"eventName":["Other"]}}`))
	if got, _ := set.Matches([]byte(`{"detail":{"eventName":"Op42"}}`), nil); len(got) != 0 {
		t.Fatalf("replaced pattern still matches: %v", got)
	}
	if _, err := set.Matches([]byte(`not json`), nil); err == nil {
		t.Fatal("no error for invalid JSON")
	}
}

func mustCompile(t testing.TB, src string) *Pattern {
	t.Helper()
	p, err := Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSetConcurrent: Matches runs alongside Add and Remove (run with -race).
func TestSetConcurrent(t *testing.T) {
	set := NewSet()
	p := mustCompile(t, `{"detail":{"eventName":["A"]}}`)
	q := mustCompile(t, `{"detail":{"n":[{"numeric":[">",1]}]}}`)
	done := make(chan bool)
	go func() {
		for i := 0; i < 500; i++ {
			set.Add(fmt.Sprint(i%7), p)
			set.Add(fmt.Sprint("q", i%5), q)
			set.Remove(fmt.Sprint((i + 3) % 7))
		}
		close(done)
	}()
	var dst []string
	for {
		select {
		case <-done:
			return
		default:
		}
		var err error
		if dst, err = set.Matches([]byte(`{"detail":{"eventName":"A","n":2}}`), dst[:0]); err != nil {
			t.Fatal(err)
		}
		for _, id := range dst {
			if id == "" {
				t.Fatal("empty id")
			}
		}
	}
}
