package geoip_test

import (
	"path/filepath"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/opentrail/opentrail/internal/geoip"
	"github.com/opentrail/opentrail/internal/geoip/geoiptest"
)

func TestLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := geoiptest.Write(path, map[string]geoiptest.Place{
		"81.2.69.0/24":   {ISOCode: "GB", Country: "United Kingdom", City: "London"},
		"203.0.113.0/24": {ISOCode: "DE", Country: "Germany"},
		"8.8.8.8/32":     {ISOCode: "US", Country: "United States", City: "Mountain View"},
	}); err != nil {
		t.Fatal(err)
	}
	// The file passes the reader's own format verification.
	raw, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Verify(); err != nil {
		t.Fatalf("verify: %v", err)
	}
	raw.Close()
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for ip, want := range map[string]string{
		"81.2.69.142":              "London, United Kingdom",
		"203.0.113.9":              "Germany",
		"8.8.8.8":                  "Mountain View, United States",
		"8.8.8.9":                  "Unknown",
		"10.0.0.1":                 "Unknown", // private
		"127.0.0.1":                "Unknown",
		"::ffff:81.2.69.1":         "London, United Kingdom",
		"2001:db8::1":              "Unknown", // IPv6 in an IPv4 database
		"cloudtrail.amazonaws.com": "Unknown",
		"":                         "Unknown",
	} {
		if got := db.Lookup(ip).String(); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", ip, got, want)
		}
	}
	if got := db.Lookup("81.2.69.142").ISOCode; got != "GB" {
		t.Errorf("ISOCode = %q", got)
	}
}

func TestOpenRejectsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.mmdb")
	if _, err := geoip.Open(path); err == nil {
		t.Fatal("opened a missing file")
	}
}
