// Package geoip places IP addresses in countries and cities through a
// MaxMind DB file (.mmdb: GeoLite2-City, GeoIP2-City or -Country) the
// operator configures (console.geoip_database). It never guesses: an
// address the database does not know, a private or loopback address, or
// a value that is not an address (a service name such as
// "cloudtrail.amazonaws.com") is Unknown.
//
// A DB is safe for concurrent use. It is imported by the console.
package geoip

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Unknown is the country of addresses the database cannot place.
const Unknown = "Unknown"

// DB is an open MaxMind database.
type DB struct {
	r    *maxminddb.Reader
	path string
}

// Open opens and checks the database at path.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open geoip database %s: %w", path, err)
	}
	return &DB{r: r, path: path}, nil
}

// Path is the file the database was opened from.
func (d *DB) Path() string { return d.path }

// Close releases the database.
func (d *DB) Close() error { return d.r.Close() }

// Location is where an address is: Country is the English country name
// (or Unknown), ISOCode its ISO 3166 code, City the English city name
// when the database has one.
type Location struct {
	Country string
	ISOCode string
	City    string
}

// String is "City, Country", or the country alone.
func (l Location) String() string {
	if l.City != "" {
		return l.City + ", " + l.Country
	}
	return l.Country
}

type record struct {
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
}

// Lookup places ip (an address as CloudTrail's sourceIPAddress holds it).
func (d *DB) Lookup(ip string) Location {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return Location{Country: Unknown}
	}
	addr = addr.Unmap()
	var rec record
	res := d.r.Lookup(addr)
	if !res.Found() || res.Decode(&rec) != nil {
		return Location{Country: Unknown}
	}
	loc := Location{ISOCode: rec.Country.ISOCode, Country: rec.Country.Names["en"], City: rec.City.Names["en"]}
	if loc.Country == "" {
		loc.Country = loc.ISOCode
	}
	if loc.Country == "" {
		return Location{Country: Unknown}
	}
	return loc
}
