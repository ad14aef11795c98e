package query_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/query"
)

func TestSavedQueries(t *testing.T) {
	evs := fixture()
	// bob's key from a new address after the cut-off.
	evs = append(evs, ev{name: "ListBuckets", source: "s3.amazonaws.com", identity: iamUser(acctA, "bob", "AKIABOB0000000000002"), ip: "233.252.0.1", at: 2 * time.Hour})
	st := openStore(t, evs)
	cases := []struct {
		name   string
		params map[string]string
		want   [][]string
	}{
		{"top-callers", nil, [][]string{
			{"arn:aws:iam::111111111111:user/alice", "32"},
			{"arn:aws:iam::111111111111:user/bob", "12"},
			{"arn:aws:iam::111111111111:root", "1"},
		}},
		{"failed-calls-by-principal", nil, [][]string{{"arn:aws:iam::111111111111:user/bob", "AccessDenied", "10"}}},
		{"console-logins-without-mfa", nil, [][]string{{"2026-03-01 12:41:00.000", "Root", "arn:aws:iam::111111111111:root", "203.0.113.5"}}},
		{"root-activity", nil, [][]string{{"2026-03-01 12:41:00.000", "signin.amazonaws.com", "ConsoleLogin", "us-east-1", "203.0.113.5", ""}}},
		{"security-group-changes", nil, [][]string{{"2026-03-01 12:40:00.000", "AuthorizeSecurityGroupIngress", "arn:aws:iam::111111111111:user/bob", "sg-0123", ""}}},
		{"access-key-activity", map[string]string{"access_key_id": "AKIABOB0000000000002"}, nil}, // checked by count below
		{"new-ips-for-principal", map[string]string{"principal": "arn:aws:iam::111111111111:user/bob", "since": "2026-03-01 13:00:00"},
			[][]string{{"233.252.0.1", "2026-03-01 14:00:00.000", "2026-03-01 14:00:00.000", "1"}}},
	}
	if len(cases) != len(query.SavedQueries()) {
		t.Fatalf("%d saved queries, %d tested", len(query.SavedQueries()), len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, ok := query.LookupSaved(c.name)
			if !ok {
				t.Fatalf("no saved query %s", c.name)
			}
			sql, err := s.Render(c.params)
			if err != nil {
				t.Fatal(err)
			}
			res := mustRun(t, st, sql)
			if c.want == nil {
				if len(res.Rows) != 12 { // 10 RunInstances, 1 AuthorizeSecurityGroupIngress, 1 ListBuckets
					t.Fatalf("rows = %d, want 12", len(res.Rows))
				}
				return
			}
			checkRows(t, res, nil, c.want)
		})
	}
}

func TestSavedRenderParams(t *testing.T) {
	s, _ := query.LookupSaved("access-key-activity")
	if _, err := s.Render(nil); err == nil {
		t.Error("missing parameter accepted")
	}
	if _, err := s.Render(map[string]string{"access_key_id": "x", "other": "y"}); err == nil {
		t.Error("unknown parameter accepted")
	}
	sql, err := s.Render(map[string]string{"access_key_id": "it's"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `'it''s'`; !strings.Contains(sql, want) {
		t.Errorf("rendered %s, want %s in it", sql, want)
	}
}
