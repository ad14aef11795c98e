package capture

import (
	"bytes"
	"encoding/xml"
	"errors"
)

// maxBodyParamsDepth bounds the nesting of a configuration body's
// parameters.
const maxBodyParamsDepth = 32

// s3BodyParams adds the body of a bucket configuration call to its
// parameters as CloudTrail logs it: PutBucketPolicy's policy document as
// "bucketPolicy" (a JSON object), any other XML document under its root
// element's name, its elements as members ("CreateBucketConfiguration":
// {"LocationConstraint": "eu-west-1", "xmlns": "..."}), repeated elements
// as lists. A body that is neither is left out.
func s3BodyParams(p map[string]any, name string, body []byte) {
	if name == "PutBucketPolicy" {
		if m := jsonObject(body); m != nil {
			p["bucketPolicy"] = m
		}
		return
	}
	root, v, ok := xmlTree(body)
	if ok {
		p[root] = v
	}
}

// xmlTree decodes an XML document into its root element's name and a
// tree of maps (elements with children or attributes), lists (repeated
// elements) and strings (text-only elements). Namespace declarations are
// kept as "xmlns" and "xmlns:<prefix>", other attributes by name.
func xmlTree(body []byte) (string, any, bool) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, false
		}
		if se, ok := tok.(xml.StartElement); ok {
			v, err := xmlElement(dec, se, 0)
			if err != nil {
				return "", nil, false
			}
			return se.Name.Local, v, true
		}
	}
}

func xmlElement(dec *xml.Decoder, se xml.StartElement, depth int) (any, error) {
	if depth > maxBodyParamsDepth {
		return nil, errTooDeep
	}
	m := map[string]any{}
	for _, a := range se.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			m["xmlns"] = a.Value
		case a.Name.Space == "xmlns":
			m["xmlns:"+a.Name.Local] = a.Value
		case a.Name.Space != "":
			m[xmlPrefix(a.Name.Space)+a.Name.Local] = a.Value
		default:
			m[a.Name.Local] = a.Value
		}
	}
	var text bytes.Buffer
	children := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			children = true
			v, err := xmlElement(dec, t, depth+1)
			if err != nil {
				return nil, err
			}
			k := t.Name.Local
			switch old := m[k].(type) {
			case nil:
				m[k] = v
			case []any:
				m[k] = append(old, v)
			default:
				m[k] = []any{old, v}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if !children && len(m) == 0 {
				return string(bytes.TrimSpace(text.Bytes())), nil
			}
			return m, nil
		}
	}
}

// xmlPrefix names the usual prefix of an attribute's namespace
// (xsi:type in an ACL's Grantee).
func xmlPrefix(space string) string {
	if space == "http://www.w3.org/2001/XMLSchema-instance" {
		return "xsi:"
	}
	return ""
}

var errTooDeep = errors.New("XML nested too deep")
