package s3api

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		h          string
		size       int64
		start, end int64
		partial    bool
		unsat      bool
	}{
		{"", 10, 0, 0, false, false},
		{"bytes=0-0", 10, 0, 0, true, false},
		{"bytes=0-9", 10, 0, 9, true, false},
		{"bytes=0-100", 10, 0, 9, true, false},
		{"bytes=3-", 10, 3, 9, true, false},
		{"bytes=9-", 10, 9, 9, true, false},
		{"bytes=-1", 10, 9, 9, true, false},
		{"bytes=-10", 10, 0, 9, true, false},
		{"bytes=-11", 10, 0, 9, true, false},
		{" bytes=1-2 ", 10, 1, 2, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=10-20", 10, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=0-", 0, 0, 0, false, true},
		{"bytes=-5", 0, 0, 0, false, true},
		{"bytes=5-4", 10, 0, 0, false, false},
		{"bytes=a-b", 10, 0, 0, false, false},
		{"bytes=-", 10, 0, 0, false, false},
		{"bytes=1", 10, 0, 0, false, false},
		{"bytes=+1-2", 10, 0, 0, false, false},
		{"bytes=0-1,3-4", 10, 0, 0, false, false},
		{"bits=0-1", 10, 0, 0, false, false},
		{"bytes=99999999999999999999-", 10, 0, 0, false, false},
		{"bytes=9223372036854775807-", 10, 0, 0, false, true},
	}
	for _, tc := range tests {
		start, end, partial, err := parseRange(tc.h, tc.size)
		if unsat := errors.Is(err, errUnsatisfiable); unsat != tc.unsat || partial != tc.partial ||
			(partial && (start != tc.start || end != tc.end)) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v, %v; want %d, %d, %v, unsatisfiable %v",
				tc.h, tc.size, start, end, partial, err, tc.start, tc.end, tc.partial, tc.unsat)
		}
	}
}

// FuzzParseRange checks that a partial answer always lies inside the
// object and that no input makes parseRange panic.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=1-0", "bytes=0-1,2-3", "bytes=--1", "bytes=18446744073709551615-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		start, end, partial, err := parseRange(h, size)
		if err != nil && !errors.Is(err, errUnsatisfiable) {
			t.Fatalf("parseRange(%q, %d): unexpected error %v", h, size, err)
		}
		if partial && (err != nil || start < 0 || end < start || end >= size) {
			t.Fatalf("parseRange(%q, %d) = %d, %d, %v, %v", h, size, start, end, partial, err)
		}
	})
}

func TestPreconditions(t *testing.T) {
	mod := time.Date(2026, 11, 26, 12, 0, 0, 500, time.UTC)
	at := func(d time.Duration) string { return mod.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		hdr    map[string]string
		status int
	}{
		{nil, 0},
		{map[string]string{"If-Match": `"abc"`}, 0},
		{map[string]string{"If-Match": `"x", W/"abc"`}, 0},
		{map[string]string{"If-Match": `*`}, 0},
		{map[string]string{"If-Match": `"x"`}, 412},
		{map[string]string{"If-None-Match": `"abc"`}, 304},
		{map[string]string{"If-None-Match": `"x"`}, 0},
		{map[string]string{"If-Modified-Since": at(0)}, 304},
		{map[string]string{"If-Modified-Since": at(-time.Second)}, 0},
		{map[string]string{"If-Modified-Since": "garbage"}, 0},
		{map[string]string{"If-Unmodified-Since": at(0)}, 0},
		{map[string]string{"If-Unmodified-Since": at(-time.Second)}, 412},
		// If-Match decides over If-Unmodified-Since, If-None-Match over
		// If-Modified-Since.
		{map[string]string{"If-Match": `"abc"`, "If-Unmodified-Since": at(-time.Hour)}, 0},
		{map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": at(time.Hour)}, 0},
		{map[string]string{"If-Match": `"x"`, "If-None-Match": `"abc"`}, 412},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		if got, _ := preconditions(h, "abc", mod); got != tc.status {
			t.Errorf("preconditions(%v) = %d, want %d", tc.hdr, got, tc.status)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"", "", true},
		{"", "a", false},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "aüc", true},
		{"arn:aws:s3:::logs/*", "arn:aws:s3:::logs/AWSLogs/x", true},
		{"arn:aws:s3:::logs/*", "arn:aws:s3:::logs", false},
		{"arn:aws:s3:::logs*", "arn:aws:s3:::logs", true},
		{"arn:aws:s3:::logs/AWSLogs/*/CloudTrail/*", "arn:aws:s3:::logs/AWSLogs/1/CloudTrail/x", true},
		{"arn:aws:s3:::logs/AWSLogs/*/CloudTrail/*", "arn:aws:s3:::logs/AWSLogs/1/Digest/x", false},
		{"s3:get*", "s3:getobject", true},
		{"s3:*policy", "s3:getbucketpolicy", true},
		{"**a**", "xxaxx", true},
		{"*a*b*c*", "aXbXc", true},
		{"*a*b*c*", "aXcXb", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestPolicyEvaluate(t *testing.T) {
	const owner, other = "111111111111", "222222222222"
	ctxFor := func(account, action, resource string, secure bool) evalContext {
		return evalContext{account: account, arn: "arn:aws:iam::" + account + ":root", canonID: canonicalID(account),
			action: action, resource: resource, secure: secure}
	}
	obj := objectARN("logs", "AWSLogs/x")
	tests := []struct {
		name   string
		policy string
		c      evalContext
		want   decision
	}{
		{"no statement matches", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"333333333333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
			ctxFor(other, "s3:GetObject", obj, false), noMatch},
		{"single statement object", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
			ctxFor(other, "s3:GetObject", obj, false), allow},
		{"action case", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"S3:GETOBJECT","Resource":"arn:aws:s3:::logs/*"}}`,
			ctxFor(other, "s3:GetObject", obj, false), allow},
		{"resource case", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/awslogs/*"}}`,
			ctxFor(other, "s3:GetObject", obj, false), noMatch},
		{"canonical user", `{"Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"` + canonicalID(other) + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
			ctxFor(other, "s3:GetObject", obj, false), allow},
		{"deny beats allow", `{"Statement":[
			{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::logs/*"},
			{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:Get*","Resource":"arn:aws:s3:::logs/AWSLogs/*"}]}`,
			ctxFor(other, "s3:GetObject", obj, false), deny},
		{"not resource", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::logs/public/*"}}`,
			ctxFor(owner, "s3:GetObject", obj, false), deny},
		{"not principal", `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"s3:*","Resource":"arn:aws:s3:::logs/*"}}`,
			ctxFor(owner, "s3:GetObject", obj, false), noMatch},
		{"allow with condition", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`,
			ctxFor(other, "s3:GetObject", obj, true), noMatch},
		{"deny over TLS", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`,
			ctxFor(owner, "s3:GetObject", obj, true), noMatch},
		{"deny over plain HTTP", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":false}}}}`,
			ctxFor(owner, "s3:GetObject", obj, false), deny},
		{"deny with two conditions, one false", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringEquals":{"aws:PrincipalAccount":"999999999999"}}}}`,
			ctxFor(owner, "s3:GetObject", obj, false), noMatch},
		{"deny with an unknown operator", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"NumericLessThan":{"s3:max-keys":"10"}}}}`,
			ctxFor(owner, "s3:GetObject", obj, true), deny},
		{"deny case-insensitive key", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"StringEqualsIgnoreCase":{"AWS:PRINCIPALACCOUNT":"111111111111"}}}}`,
			ctxFor(owner, "s3:GetObject", obj, true), deny},
		// The IAM policy language's operators evaluate beyond String, Arn and Bool.
		{"deny with Null on a present key", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"Null":{"aws:PrincipalArn":"true"}}}}`,
			ctxFor(owner, "s3:GetObject", obj, true), noMatch},
		{"deny with ArnNotLike on another account's principal", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:*"}}}}`,
			ctxFor(other, "s3:GetObject", obj, true), deny},
		{"deny with a value the language refuses", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":"maybe"}}}}`,
			ctxFor(owner, "s3:GetObject", obj, true), deny},
		{"bucket resource is not object resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::logs"}}`,
			ctxFor(other, "s3:ListBucket", bucketARN("logs"), false), allow},
	}
	for _, tc := range tests {
		p, err := parsePolicy([]byte(tc.policy), "logs")
		if err != nil {
			t.Errorf("%s: parsePolicy: %v", tc.name, err)
			continue
		}
		if got := p.evaluate(tc.c); got != tc.want {
			t.Errorf("%s: evaluate = %d, want %d", tc.name, got, tc.want)
		}
	}
	if denyAll.evaluate(ctxFor(owner, "s3:GetObject", obj, true)) != deny {
		t.Error("denyAll does not deny")
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, doc := range []string{
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","NotResource":"x"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"me","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":[]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:Get Object","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":5,"Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs2/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":"x"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"k":{"x":1}}}}}`,
		`{"Statement":{"Sid":1,"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":[null]}`,
		`{"Statement":{}}`,
		`{"Id":"x","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}],"Extra":1}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]} {}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Pad":"` + strings.Repeat("x", objstore.MaxPolicySize) + `"}]}`,
	} {
		_, err := parsePolicy([]byte(doc), "logs")
		var se *s3Error
		if !errors.As(err, &se) || se.Code != "MalformedPolicy" || se.Status != 400 || se.Message == "" {
			t.Errorf("parsePolicy(%.80s) = %v, want MalformedPolicy", doc, err)
		}
	}
	for _, doc := range []string{
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::lo?s/*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::222222222222:assumed-role/r/s","Service":["a.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`,
		`{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":{"NumericLessThan":{"s3:max-keys":[10, 20]},"Bool":{"aws:SecureTransport":false}}}}`,
	} {
		if _, err := parsePolicy([]byte(doc), "logs"); err != nil {
			t.Errorf("parsePolicy(%s): %v", doc, err)
		}
	}
}

// FuzzParsePolicy checks that parsing and evaluating any document neither
// panics nor lets a document objstore refuses through, and that
// evaluation is deterministic.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]}`,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111111111111"]},"NotAction":"s3:List*","NotResource":"arn:aws:s3:::logs","Condition":{"Bool":{"aws:SecureTransport":false}}}}`,
		`{"Statement":[]}`, `[]`, `{`, `{"Statement":[null]}`,
	} {
		f.Add(s, "s3:GetObject", "AWSLogs/x", true)
	}
	f.Fuzz(func(t *testing.T, doc, action, key string, secure bool) {
		p, err := parsePolicy([]byte(doc), "logs")
		if err != nil {
			return
		}
		reg, rerr := objstore.OpenFSBuckets(t.TempDir())
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err := reg.CreateBucket(t.Context(), "logs", "111111111111", "us-east-1"); err != nil {
			t.Fatal(err)
		}
		if err := reg.PutPolicy(t.Context(), "logs", []byte(doc)); err != nil {
			t.Fatalf("parsePolicy accepts %q, the store refuses it: %v", doc, err)
		}
		c := evalContext{account: "222222222222", arn: "arn:aws:iam::222222222222:root", action: action, resource: objectARN("logs", key), secure: secure}
		if d1, d2 := p.evaluate(c), p.evaluate(c); d1 != d2 {
			t.Fatalf("evaluate is not deterministic: %d, %d", d1, d2)
		}
	})
}

func TestParseListQuery(t *testing.T) {
	tok := encodeToken("AWSLogs/x")
	tests := []struct {
		query string
		v2    bool
		want  listQuery
		bad   bool
	}{
		{"", false, listQuery{maxKeys: 1000}, false},
		{"prefix=a%2F&delimiter=%2F&marker=m&max-keys=5&encoding-type=url", false,
			listQuery{prefix: "a/", delimiter: "/", marker: "m", maxKeys: 5, encodeURL: true}, false},
		{"max-keys=0", false, listQuery{maxKeys: 0}, false},
		{"max-keys=2147483647", false, listQuery{maxKeys: 1000}, false},
		{"list-type=2&start-after=s&fetch-owner=true&continuation-token=" + url.QueryEscape(tok), true,
			listQuery{maxKeys: 1000, v2: true, startAfter: "s", fetchOwner: true, token: tok, hasToken: true, tokenAfter: "AWSLogs/x"}, false},
		{"max-keys=-1", false, listQuery{}, true},
		{"max-keys=2147483648", false, listQuery{}, true},
		{"max-keys=1.5", false, listQuery{}, true},
		{"encoding-type=URL", false, listQuery{}, true},
		{"continuation-token=", true, listQuery{}, true},
		{"continuation-token=%ZZ", true, listQuery{}, true},
		{"continuation-token=" + url.QueryEscape(tok[1:]), true, listQuery{}, true},
	}
	for _, tc := range tests {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			q = url.Values{"continuation-token": {"%ZZ"}}
		}
		got, err := parseListQuery(q, tc.v2)
		if tc.bad {
			var se *s3Error
			if !errors.As(err, &se) || se.Code != "InvalidArgument" {
				t.Errorf("parseListQuery(%q) = %+v, %v; want InvalidArgument", tc.query, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseListQuery(%q) = %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
}

// FuzzParseListQuery checks that any query string either fails with
// InvalidArgument or gives a page size S3 allows.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{"max-keys=5", "list-type=2&continuation-token=b3QxOmE%3D", "encoding-type=url&prefix=%FF", "max-keys=-0"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, v2 bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		lq, err := parseListQuery(q, v2)
		if err != nil {
			var se *s3Error
			if !errors.As(err, &se) || se.Code != "InvalidArgument" || se.Status != 400 {
				t.Fatalf("parseListQuery(%q): %v", raw, err)
			}
			return
		}
		if lq.maxKeys < 0 || lq.maxKeys > maxListKeys {
			t.Fatalf("parseListQuery(%q): maxKeys %d", raw, lq.maxKeys)
		}
		if lq.hasToken {
			if after, err := decodeToken(encodeToken(lq.tokenAfter)); err != nil || after != lq.tokenAfter {
				t.Fatalf("token of %q does not round-trip: %q, %v", lq.tokenAfter, after, err)
			}
		}
	})
}

// referenceList is S3's listing by definition: every key with the prefix
// after the position, rolled up by delimiter, each roll-up once.
func referenceList(keys []string, prefix, delimiter string) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		e := k
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				e = k[:len(prefix)+i+len(delimiter)]
			}
		}
		if len(out) == 0 || out[len(out)-1] != e {
			out = append(out, e)
		}
	}
	return out
}

// TestListEntriesReference pages through random trees with every page
// size and compares the result with referenceList, in memory and on disk.
func TestListEntriesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "/", "-", " ", "~", "ü", "a/", "/b"}
	fsRoot := t.TempDir()
	for round := range 30 {
		var keys []string
		seen := map[string]bool{}
		for len(keys) < 60 {
			var sb strings.Builder
			for range 1 + rng.IntN(7) {
				sb.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			k := sb.String()
			if objstore.ValidateKey(k) != nil || seen[k] {
				continue
			}
			seen[k] = true
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buckets := []objstore.Bucket{objstore.NewMemory()}
		if round < 6 { // the filesystem is slower; a few trees suffice
			fs, err := objstore.OpenFS(fmt.Sprintf("%s/%d", fsRoot, round))
			if err != nil {
				t.Fatal(err)
			}
			buckets = append(buckets, fs)
		}
		for _, b := range buckets {
			for _, k := range keys {
				if err := b.Put(t.Context(), k, []byte(k), nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, prefix := range []string{"", "a", "a/", "b/a", "ü"} {
				for _, delim := range []string{"", "/", "a", "/b"} {
					want := referenceList(keys, prefix, delim)
					for _, size := range []int{1, 2, 3, 7, 1000} {
						var got []string
						after := ""
						for pages := 0; ; pages++ {
							if pages > len(keys)+1 {
								t.Fatalf("listing %q/%q by %d does not end", prefix, delim, size)
							}
							pg, err := listEntries(t.Context(), b, prefix, delim, after, size)
							if err != nil {
								t.Fatal(err)
							}
							if n := len(pg.objects) + len(pg.prefixes); n > size || (pg.truncated && n != size) {
								t.Fatalf("page of %d entries for size %d, truncated %v", n, size, pg.truncated)
							}
							// Merge the page's objects and prefixes in order.
							var page []string
							for _, o := range pg.objects {
								page = append(page, o.Key)
							}
							page = append(page, pg.prefixes...)
							slices.Sort(page)
							got = append(got, page...)
							if !pg.truncated {
								break
							}
							after = pg.last
						}
						if !slices.Equal(got, want) {
							t.Fatalf("%T: list prefix %q delimiter %q by %d:\n got %q\nwant %q\nkeys %q", b, prefix, delim, size, got, want, keys)
						}
					}
				}
			}
		}
	}
}
