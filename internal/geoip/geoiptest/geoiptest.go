// Package geoiptest writes tiny MaxMind DB (.mmdb) files for tests, in
// the format documented at https://maxmind.github.io/MaxMind-DB/: an IPv4
// binary search tree with 24-bit records, the 16-byte separator, a data
// section of GeoIP2-City-shaped records, and the metadata map after its
// marker. It is for tests only.
package geoiptest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sort"
)

// Place is the record an address range maps to.
type Place struct {
	ISOCode, Country, City string
}

// Write writes a City database mapping each IPv4 prefix to its place.
func Write(path string, places map[string]Place) error {
	b, err := Build(places)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

const empty = -1

// record values: empty, a node index (>= 0), or data offset d encoded as
// -2 - d.
func dataRef(off int) int { return -2 - off }

// Build returns the database's bytes.
func Build(places map[string]Place) ([]byte, error) {
	nodes := [][2]int{{empty, empty}}
	var data bytes.Buffer
	keys := make([]string, 0, len(places))
	for k := range places {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, err := netip.ParsePrefix(k)
		if err != nil || !p.Addr().Is4() || p.Bits() == 0 {
			return nil, fmt.Errorf("geoiptest: want an IPv4 prefix such as 81.2.69.0/24, got %q", k)
		}
		off := data.Len()
		pl := places[k]
		rec := map[string]any{"country": map[string]any{"iso_code": pl.ISOCode, "names": map[string]any{"en": pl.Country}}}
		if pl.City != "" {
			rec["city"] = map[string]any{"names": map[string]any{"en": pl.City}}
		}
		encode(&data, rec)
		a := p.Masked().Addr().As4()
		ip := binary.BigEndian.Uint32(a[:])
		n := 0
		for depth := 0; depth < p.Bits(); depth++ {
			bit := int(ip>>(31-depth)) & 1
			if depth == p.Bits()-1 {
				nodes[n][bit] = dataRef(off)
				break
			}
			next := nodes[n][bit]
			if next < 0 {
				if next != empty {
					return nil, fmt.Errorf("geoiptest: prefix %s lies inside another", k)
				}
				nodes = append(nodes, [2]int{empty, empty})
				next = len(nodes) - 1
				nodes[n][bit] = next
			}
			n = next
		}
	}
	count := len(nodes)
	var out bytes.Buffer
	for _, nd := range nodes {
		for _, r := range nd {
			v := count // empty
			switch {
			case r >= 0:
				v = r
			case r != empty:
				v = count + 16 + (-2 - r)
			}
			out.Write([]byte{byte(v >> 16), byte(v >> 8), byte(v)})
		}
	}
	out.Write(make([]byte, 16))
	out.Write(data.Bytes())
	out.WriteString("\xAB\xCD\xEFMaxMind.com")
	encode(&out, map[string]any{
		"node_count":                  uint32(count),
		"record_size":                 uint16(24),
		"ip_version":                  uint16(4),
		"database_type":               "GeoLite2-City",
		"languages":                   []any{"en"},
		"binary_format_major_version": uint16(2),
		"binary_format_minor_version": uint16(0),
		"build_epoch":                 uint64(1764892800),
		"description":                 map[string]any{"en": "opentrail test database"},
	})
	return out.Bytes(), nil
}

// encode writes v in the data section's format (maps with sorted keys,
// so output is deterministic).
func encode(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case string:
		control(b, 2, len(v))
		b.WriteString(v)
	case uint16:
		uint(b, 5, uint64(v))
	case uint32:
		uint(b, 6, uint64(v))
	case uint64:
		uint(b, 9, v)
	case []any:
		control(b, 11, len(v))
		for _, e := range v {
			encode(b, e)
		}
	case map[string]any:
		control(b, 7, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			encode(b, k)
			encode(b, v[k])
		}
	default:
		panic(fmt.Sprintf("geoiptest: cannot encode %T", v))
	}
}

func uint(b *bytes.Buffer, typ int, v uint64) {
	var be []byte
	for x := v; x > 0; x >>= 8 {
		be = append([]byte{byte(x)}, be...)
	}
	control(b, typ, len(be))
	b.Write(be)
}

// control writes a field's control byte(s): type in the top three bits
// (or 0 and an extended-type byte for types above 7) and the size.
func control(b *bytes.Buffer, typ, size int) {
	var first byte
	var ext []byte
	if typ <= 7 {
		first = byte(typ << 5)
	} else {
		ext = []byte{byte(typ - 7)}
	}
	var extra []byte
	switch {
	case size < 29:
		first |= byte(size)
	case size < 29+256:
		first |= 29
		extra = []byte{byte(size - 29)}
	case size < 285+65536:
		first |= 30
		s := size - 285
		extra = []byte{byte(s >> 8), byte(s)}
	default:
		first |= 31
		s := size - 65821
		extra = []byte{byte(s >> 16), byte(s >> 8), byte(s)}
	}
	b.WriteByte(first)
	b.Write(ext)
	b.Write(extra)
}
