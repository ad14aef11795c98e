package awsapi

import (
	"crypto/tls"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTimeUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"1709251200", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"1709251200.5", time.Date(2024, 3, 1, 0, 0, 0, 500e6, time.UTC), false},
		{"1709251200.123456", time.Date(2024, 3, 1, 0, 0, 0, 123456e3, time.UTC), false},
		{"1.7092512e9", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"0", time.Unix(0, 0).UTC(), false},
		{"-1.5", time.Unix(-2, 500e6).UTC(), false},
		{"null", time.Time{}, false},
		{`"1709251200"`, time.Time{}, true},
		{"true", time.Time{}, true},
		{"1e300", time.Time{}, true},
		{"99999999999999999999", time.Time{}, true},
	}
	for _, tt := range tests {
		var v struct{ T Time }
		err := json.Unmarshal([]byte(`{"T":`+tt.in+`}`), &v)
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v", tt.in, err)
			continue
		}
		if !tt.err && !v.T.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.in, v.T.Time, tt.want)
		}
	}
}

func TestFormatEpoch(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), "1709251200"},
		{time.Date(2024, 3, 1, 0, 0, 0, 500e6, time.UTC), "1709251200.5"},
		{time.Date(2024, 3, 1, 0, 0, 0, 120e6, time.UTC), "1709251200.12"},
		{time.Date(2024, 3, 1, 0, 0, 0, 123456789, time.UTC), "1709251200.123"},
		{time.Unix(-2, 500e6), "-1.5"},
	}
	for _, tt := range tests {
		if got := FormatEpoch(tt.t); got != tt.want {
			t.Errorf("FormatEpoch(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
	b, _ := json.Marshal(struct{ A, B Time }{B: Time{time.Unix(5, 0)}})
	if string(b) != `{"A":null,"B":5}` {
		t.Errorf("marshal = %s", b)
	}
}

func TestCheckDepth(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{}`, true},
		{strings.Repeat("[", 3) + strings.Repeat("]", 3), true},
		{strings.Repeat("[", 4) + strings.Repeat("]", 4), false},
		{`{"a":"[[[[[[[[[["}`, true},   // brackets in strings do not count
		{`{"a":"\"[[[[[[[[[["}`, true}, // nor after an escaped quote
		{`{"a":"\\",[[[]]]}`, false},   // an escaped backslash ends the string
	}
	for _, tt := range tests {
		if err := CheckDepth([]byte(tt.in), 3); (err == nil) != tt.ok {
			t.Errorf("CheckDepth(%s) = %v", tt.in, err)
		}
	}
}

func TestAuditRecord(t *testing.T) {
	c := testCaller()
	c.TLS = &TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "localhost:8443"}
	rec := AuditRecord(c, "cloudtrail", "StopLogging", false,
		map[string]any{"Name": "audit-main"}, nil, "TrailNotFoundException", "Unknown trail <main> & co")
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	id, _ := m["eventID"].(string)
	if len(id) != 36 || id[14] != '4' {
		t.Errorf("eventID %q is not a v4 UUID", id)
	}
	delete(m, "eventID")
	want := `{"awsRegion":"eu-central-1","errorCode":"TrailNotFoundException","errorMessage":"Unknown trail <main> & co",` +
		`"eventCategory":"Management","eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com",` +
		`"eventTime":"2024-05-06T07:01:44Z","eventType":"AwsApiCall","eventVersion":"1.09","managementEvent":true,` +
		`"readOnly":false,"recipientAccountId":"210987654321","requestID":"11111111-2222-3333-4444-555555555555",` +
		`"requestParameters":{"name":"audit-main"},"responseElements":null,"sourceIPAddress":"198.51.100.23",` +
		`"tlsDetails":{"cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"localhost:8443","tlsVersion":"TLSv1.3"},` +
		`"userAgent":"aws-cli/2.9.19","userIdentity":{"accessKeyId":"AKIAEXAMPLE000000001","accountId":"210987654321",` +
		`"arn":"arn:aws:iam::210987654321:user/alice","principalId":"AIDAEXAMPLEUSER00001","type":"IAMUser","userName":"alice"}}`
	if got := mustJSON(m); got != want {
		t.Errorf("record\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(rec), "<main> & co") {
		t.Errorf("HTML characters escaped: %s", rec)
	}
	if !strings.HasPrefix(string(rec), `{"eventVersion":"1.09","userIdentity":`) {
		t.Errorf("field order: %s", rec)
	}

	// No principal, plain HTTP, zero time.
	rec = AuditRecord(&Caller{Region: "us-east-1"}, "cloudtrail-data", "PutAuditEvents", true, struct{}{}, map[string]int{"a": 1}, "", "")
	m = nil
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	if mustJSON(m["userIdentity"]) != `{"type":"Unknown"}` || m["tlsDetails"] != nil || m["responseElements"] != nil ||
		m["requestParameters"] != nil || m["eventSource"] != "cloudtrail-data.amazonaws.com" || m["errorCode"] != nil {
		t.Errorf("record %s", rec)
	}
	if tm, err := time.Parse(time.RFC3339, m["eventTime"].(string)); err != nil || time.Since(tm) > time.Minute {
		t.Errorf("eventTime %v", m["eventTime"])
	}
	// Long strings are cut to 1 KB.
	c = testCaller()
	c.UserAgent = strings.Repeat("é", 600)
	rec = AuditRecord(c, "cloudtrail", "X", true, nil, nil, "", "")
	m = nil
	_ = json.Unmarshal(rec, &m)
	if ua := m["userAgent"].(string); len(ua) != 1024 {
		t.Errorf("userAgent length %d", len(ua))
	}
}

func TestEventSource(t *testing.T) {
	for in, want := range map[string]string{
		"cloudtrail":           "cloudtrail.amazonaws.com",
		"cloudtrail-data":      "cloudtrail-data.amazonaws.com",
		"signin.amazonaws.com": "signin.amazonaws.com",
	} {
		if got := EventSource(in); got != want {
			t.Errorf("EventSource(%q) = %q", in, got)
		}
	}
}

func TestTLSDetailsFrom(t *testing.T) {
	req := httptest.NewRequest("POST", "https://cloudtrail.eu-central-1.amazonaws.com/", nil)
	req.TLS = &tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	got := TLSDetailsFrom(req)
	want := TLSDetails{TLSVersion: "TLSv1.2", CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", ClientProvidedHostHeader: "cloudtrail.eu-central-1.amazonaws.com"}
	if got == nil || *got != want {
		t.Errorf("got %+v", got)
	}
	req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_256_GCM_SHA384}
	if got := TLSDetailsFrom(req); got.TLSVersion != "TLSv1.3" || got.CipherSuite != "TLS_AES_256_GCM_SHA384" {
		t.Errorf("got %+v", got)
	}
	req.TLS = nil
	if TLSDetailsFrom(req) != nil {
		t.Error("plain HTTP has TLS details")
	}
}

func TestCallerContext(t *testing.T) {
	if CallerFrom(t.Context()) != nil {
		t.Error("caller in empty context")
	}
	c := testCaller()
	if CallerFrom(WithCaller(t.Context(), c)) != c {
		t.Error("caller lost")
	}
}
