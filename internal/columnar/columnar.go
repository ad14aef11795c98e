// Package columnar is the codec of the cold storage tier: it shreds a
// CloudTrail record into typed columns under CloudTrail Lake's names plus a
// small template, and rebuilds the record from them byte for byte.
//
// # Columns
//
// Columns lists the columns in order. The record's top-level string fields
// are VARCHAR, eventTime is TIMESTAMP (the store's event time, always set),
// readOnly and managementEvent are BOOLEAN, userIdentity and tlsDetails are
// STRUCTs of VARCHAR leaves (userIdentity.sessionContext.webIdFederationData
// is VARCHAR holding its JSON text), and the free-form fields
// (requestParameters, responseElements, additionalEventData,
// serviceEventDetails, resources, addendum, edgeDeviceDetails,
// insightDetails) are VARCHAR holding the exact JSON text of the value. The
// last column, _template, holds the record's bytes with each value that
// went into a column replaced by a placeholder.
//
// # Template
//
// A placeholder is the byte 0x01 followed by the leaf's tag, one byte from
// 0x20 up (see Columns' order: the leaves are numbered depth first).
// Well-formed JSON never holds a raw control byte, so the marker cannot be
// confused with the record's own text. Rebuild writes each placeholder's
// value back as JSON: strings in the canonical encoding (only `"`, `\` and
// control characters escaped; \n \r \t \b \f by name, others as \u00xx;
// `/`, `<`, `>`, `&` and non-ASCII characters as they are), booleans as
// true or false, JSON-text columns as their bytes, eventTime as
// "2006-01-02T15:04:05Z".
//
// Shred replaces a value only when that encoding reproduces its bytes
// exactly; anything else stays in the template as it was sent while the
// column still gets the value for queries: a string with other escapes
// (\/, \u00e9) gets its decoded text, a value of an unexpected JSON type
// (a number where a string is expected) its JSON text, null gives NULL. An
// eventTime written in another form, unknown members, a second member of
// the same name, and input that is not a JSON object stay literal too. Input
// that cannot be a VARCHAR template (invalid UTF-8, a NUL or 0x01 byte) is
// kept whole, base64-encoded, after the two bytes 0x01 0x02. So Rebuild
// returns every input exactly, and records of one shape share one template,
// which Parquet's dictionary encoding stores once per row group.
package columnar

import (
	"strconv"
	"strings"
)

// Column is one column of a shredded record: its name and its DuckDB type.
type Column struct{ Name, Type string }

type kind uint8

const (
	kString kind = iota // VARCHAR leaf
	kBool               // BOOLEAN leaf
	kJSON               // VARCHAR holding a value's JSON text
	kTime               // TIMESTAMP: eventTime
	kStruct             // STRUCT of the fields in sub
)

// field is one node of the record's schema: a top-level column or a
// member of a STRUCT column.
type field struct {
	name string
	kind kind
	key  string            // the member's name as a JSON string, quotes included
	leaf int               // leaf index (tag = tagBase+leaf); -1 for a struct
	obj  int               // struct index; -1 for a leaf
	sub  []*field          // a struct's members
	idx  map[string]*field // a struct's members by name
}

const (
	marker  = 0x01 // starts a placeholder
	tagBase = 0x20 // a leaf's tag is tagBase + its leaf index
	rawMark = 0x02 // 0x01 0x02 + base64: the record kept whole
)

func str(name string) *field  { return &field{name: name, kind: kString} }
func boo(name string) *field  { return &field{name: name, kind: kBool} }
func text(name string) *field { return &field{name: name, kind: kJSON} }
func obj(name string, sub ...*field) *field {
	return &field{name: name, kind: kStruct, sub: sub}
}

// schema is the record's columns in order, without _template.
var schema = []*field{
	str("eventVersion"),
	obj("userIdentity",
		str("type"), str("principalId"), str("arn"), str("accountId"), str("accessKeyId"),
		str("userName"), str("invokedBy"), str("identityProvider"), str("credentialId"),
		obj("sessionContext",
			obj("attributes", str("creationDate"), str("mfaAuthenticated")),
			obj("sessionIssuer", str("type"), str("principalId"), str("arn"), str("accountId"), str("userName")),
			text("webIdFederationData"), str("sourceIdentity"), str("ec2RoleDelivery"), str("ec2IssuedInVPC")),
		obj("onBehalfOf", str("userId"), str("identityStoreArn"))),
	{name: "eventTime", kind: kTime},
	str("eventSource"), str("eventName"), str("awsRegion"), str("sourceIPAddress"),
	str("userAgent"), str("errorCode"), str("errorMessage"),
	text("requestParameters"), text("responseElements"), text("additionalEventData"),
	str("requestID"), str("eventID"), boo("readOnly"), text("resources"),
	str("eventType"), str("apiVersion"), boo("managementEvent"), str("recipientAccountId"),
	str("sharedEventID"), str("vpcEndpointId"), str("eventCategory"),
	obj("tlsDetails", str("tlsVersion"), str("cipherSuite"), str("clientProvidedHostHeader")),
	str("sessionCredentialFromConsole"), text("serviceEventDetails"), str("annotation"),
	text("addendum"), text("edgeDeviceDetails"), text("insightDetails"),
}

// TemplateColumn is the name of the last column, the record's template.
const TemplateColumn = "_template"

// Columns lists the columns of a shredded record in order: the record's
// fields under Lake's names, then TemplateColumn. Types are DuckDB's.
var Columns []Column

var (
	nLeaves       int
	nStructs      int
	leaves        []*field          // by leaf index
	eventTimeLeaf int               // the leaf index of eventTime
	topIndex      map[string]*field // schema by name
)

func index(fs []*field) map[string]*field {
	m := make(map[string]*field, len(fs))
	for _, f := range fs {
		m[f.name] = f
	}
	return m
}

func init() {
	var number func(f *field)
	number = func(f *field) {
		f.key = strconv.Quote(f.name)
		f.leaf, f.obj = -1, -1
		if f.kind == kStruct {
			f.obj = nStructs
			nStructs++
			for _, s := range f.sub {
				number(s)
			}
			f.idx = index(f.sub)
			return
		}
		f.leaf = nLeaves
		nLeaves++
		leaves = append(leaves, f)
		if f.kind == kTime {
			eventTimeLeaf = f.leaf
		}
	}
	for _, f := range schema {
		number(f)
		Columns = append(Columns, Column{Name: f.name, Type: duckType(f)})
	}
	Columns = append(Columns, Column{Name: TemplateColumn, Type: "VARCHAR"})
	topIndex = index(schema)
	if tagBase+nLeaves > 0x7f {
		panic("columnar: too many leaves for one-byte tags")
	}
}

func duckType(f *field) string {
	switch f.kind {
	case kBool:
		return "BOOLEAN"
	case kTime:
		return "TIMESTAMP"
	case kStruct:
		parts := make([]string, len(f.sub))
		for i, s := range f.sub {
			parts[i] = quoteIdent(s.name) + " " + duckType(s)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	}
	return "VARCHAR"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// SelectList is the SELECT list that reads Columns back, in order, from a
// table or read_parquet whose columns are Columns: each column's quoted
// name after prefix (a table alias with its dot, such as "c.", or "").
// Scanning a row of it into *any values gives Rebuild's input.
func SelectList(prefix string) string {
	var b strings.Builder
	for i, c := range Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(quoteIdent(c.Name))
	}
	return b.String()
}
