package capture

import (
	"bytes"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/s3op"
)

// Identify names the call r makes. service is the SigV4 signing name of
// the request's credential scope (s3, dynamodb, sqs, ...). body is the
// request body when the protocol carries the call's input in it (JSON,
// query form POST, REST-JSON). For S3 it is nil, except for the bucket
// calls that configure something (PutBucketPolicy, CreateBucket with a
// CreateBucketConfiguration, PutBucketTagging, ...), whose small JSON or
// XML body CloudTrail logs among the parameters: object bodies are never
// recorded, and a body given for an object call is ignored. o may be nil.
//
// The protocol is chosen in this order: S3 REST for service s3; a
// configured [Route] whose service, method and pattern match; JSON when
// X-Amz-Target is set; query when an Action parameter is in the query or
// in a form-encoded body; otherwise unknown. Identify never fails: a
// request it cannot name gets a name made from its method and the first
// segment of its path ("GET /users"), which no AWS operation looks like.
//
// Params are redacted (see [Options.Redact]) and never hold bodies of S3
// objects or request signatures.
func Identify(r *http.Request, service string, body []byte, o *Options) Call {
	if o == nil {
		o = &Options{}
	}
	red := newRedactor(o.Redact)
	c := Call{Service: service, Source: eventSource(service, r.Host), redact: o.Redact}
	if service == "s3" {
		identifyS3(&c, r, body, red)
		return c
	}
	if rt, params, ok := matchRoute(o.Routes, service, r.Method, r.URL.Path); ok {
		c.Protocol, c.Name, c.ReadOnly = ProtocolRESTJSON, rt.Name, rt.ReadOnly
		for k, vs := range r.URL.Query() {
			if _, taken := params[k]; !taken && len(vs) > 0 && !signingParam(k) {
				params[k] = vs[0]
			}
		}
		if m := jsonObject(body); m != nil {
			for k, v := range m {
				params[k] = v
			}
		}
		c.Params = red.params(awsapi.LowerCamelKeys(params).(map[string]any))
		return c
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		c.Protocol = ProtocolJSON
		c.Name = t[strings.LastIndexByte(t, '.')+1:]
		c.ReadOnly = readOnlyName(c.Name)
		if m := jsonObject(body); m != nil {
			c.Params = red.params(awsapi.LowerCamelKeys(m).(map[string]any))
		}
		return c
	}
	if q, ok := queryInput(r, body); ok {
		c.Protocol = ProtocolQuery
		c.Name = q.Get("Action")
		c.ReadOnly = readOnlyName(c.Name)
		c.Params = red.params(flattenQuery(q))
		return c
	}
	c.Protocol = ProtocolUnknown
	c.Name = unknownName(r.Method, r.URL.Path)
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.ReadOnly = true
	}
	params := map[string]any{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 && !signingParam(k) {
			params[k] = vs[0]
		}
	}
	if len(params) > 0 {
		c.Params = red.params(params)
	}
	return c
}

// eventSource is the eventSource of calls to service: s3 →
// s3.amazonaws.com; a name with a dot is kept. A request signed for no
// service (an unsigned one) is recorded under the name of the host it was
// sent to, without its port ("unknown" for none): never under an AWS
// service it may not be.
func eventSource(service, host string) string {
	if service != "" {
		return awsapi.EventSource(service)
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host = strings.ToLower(strings.Trim(host, "[].")); host != "" {
		return host
	}
	return "unknown"
}

// identifyS3 names an S3 REST call (path or virtual-hosted style) and
// fills in its parameters and resources as CloudTrail logs them.
func identifyS3(c *Call, r *http.Request, body []byte, red *redactor) {
	c.Protocol = ProtocolS3
	bucket, key := s3op.Target(r.Host, r.URL.Path)
	q := r.URL.Query()
	op := s3op.Classify(r.Method, bucket, key, q, r.Header)
	c.Name, c.ReadOnly, c.Data = op.Name, op.ReadOnly, op.Data
	if c.Name == "" {
		// A request S3 would refuse (a method it does not serve there):
		// recorded by method and path, never as an operation of S3's.
		c.Name = unknownName(r.Method, r.URL.Path)
		c.ReadOnly = r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	c.Bucket, c.Key = bucket, key
	p := map[string]any{"Host": r.Host}
	if bucket != "" {
		p["bucketName"] = bucket
	}
	if key != "" {
		p["key"] = key
	}
	for k, vs := range q {
		if len(vs) == 0 || k == "x-id" || signingParam(k) {
			continue
		}
		p[k] = vs[0]
	}
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if len(vs) == 0 || !s3HeaderParam(name) {
			continue
		}
		p[name] = vs[0]
	}
	if len(body) > 0 && bucket != "" && key == "" && !c.Data && !c.ReadOnly {
		s3BodyParams(p, c.Name, body)
	}
	c.Params = red.params(p)
	if bucket != "" {
		if key != "" && c.Data {
			c.Resources = append(c.Resources, awsapi.AuditResource{Type: "AWS::S3::Object", ARN: "arn:aws:s3:::" + bucket + "/" + key})
		}
		// The bucket's accountId is filled in by Record (the recipient
		// account): the owner is not known from the request.
		c.Resources = append(c.Resources, awsapi.AuditResource{Type: "AWS::S3::Bucket", ARN: "arn:aws:s3:::" + bucket})
	}
}

// s3HeaderParam reports whether an x-amz-* request header (lower case) is
// one of the call's parameters, logged in requestParameters. Headers of
// the signature and the transfer are not, nor user metadata, nor
// checksums, nor customer-provided encryption keys.
func s3HeaderParam(name string) bool {
	if !strings.HasPrefix(name, "x-amz-") {
		return false
	}
	switch name {
	case "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-decoded-content-length",
		"x-amz-trailer", "x-amz-user-agent", "x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm",
		"x-amz-checksum-type", "x-amz-id-2", "x-amz-request-id":
		return false
	}
	for _, prefix := range []string{"x-amz-meta-", "x-amz-checksum-", "x-amz-te"} {
		if strings.HasPrefix(name, prefix) {
			return false
		}
	}
	return !strings.HasSuffix(name, "-customer-key") && !strings.HasSuffix(name, "-customer-key-md5")
}

// signingParam reports whether a query parameter belongs to a presigned
// request's signature rather than to the call: X-Amz-Signature and
// X-Amz-Security-Token are never recorded; the other X-Amz-* query
// parameters (Algorithm, Credential, Date, Expires, SignedHeaders) say
// how the request was signed and are recorded by S3 alone.
func signingParam(k string) bool {
	switch strings.ToLower(k) {
	case "x-amz-signature", "x-amz-security-token":
		return true
	}
	return false
}

// readOnlyPrefixes start the names of generic operations that read only.
var readOnlyPrefixes = []string{"Get", "List", "Describe", "Head", "Query", "Scan", "BatchGet", "Lookup", "Search", "Select"}

// readOnlyName reports whether a generic operation's name says it reads
// only: it starts with one of readOnlyPrefixes followed by an upper-case
// letter or nothing (GetItem, Scan; not Getaway).
func readOnlyName(name string) bool {
	for _, p := range readOnlyPrefixes {
		rest, ok := strings.CutPrefix(name, p)
		if !ok {
			continue
		}
		r, _ := utf8.DecodeRuneInString(rest)
		if rest == "" || unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// unknownName names a call no protocol identifies: its method and the
// first segment of its path, "GET /users", "POST /". The space and the
// slash keep it apart from every AWS operation name.
func unknownName(method, path string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if len(seg) > 64 {
		seg = seg[:64]
		for len(seg) > 0 && !utf8.ValidString(seg) {
			seg = seg[:len(seg)-1]
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	return strings.ToUpper(method) + " /" + seg
}

// jsonObject decodes body as a JSON object (numbers kept exact), or
// returns nil.
func jsonObject(body []byte) map[string]any {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// queryInput returns the parameters of a query-protocol call: the URL's
// query, merged with a form-encoded body, when they name an Action.
func queryInput(r *http.Request, body []byte) (url.Values, bool) {
	q := r.URL.Query()
	if len(body) > 0 {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			if form, err := url.ParseQuery(string(body)); err == nil {
				for k, vs := range form {
					q[k] = append(q[k], vs...)
				}
			}
		}
	}
	if q.Get("Action") == "" {
		return nil, false
	}
	return q, true
}

// flattenQuery turns a query call's parameters into CloudTrail's
// requestParameters: Action, Version and signature parameters dropped,
// names lower-cameled, and the flattened lists and maps of the query
// protocol rebuilt: Foo.member.1=a&Foo.member.2=b → "foo": ["a","b"],
// Tags.member.1.Key=k → "tags": [{"key":"k"}], Attributes.entry.1.key=k&
// Attributes.entry.1.value=v → "attributes": {"k":"v"}. Values stay
// strings: without the service's model their types are unknown.
func flattenQuery(q url.Values) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "Action" || k == "Version" || signingParam(k) || strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			continue
		}
		vs := q[k]
		if len(vs) == 0 {
			continue
		}
		var path []string
		for _, seg := range strings.Split(k, ".") {
			switch seg {
			case "member", "item":
				continue
			}
			path = append(path, seg)
		}
		setPath(root, path, vs[0])
	}
	v := listify(root)
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	return m
}

// setPath stores v at path in the tree of maps under m.
func setPath(m map[string]any, path []string, v string) {
	for i, seg := range path {
		if seg == "" {
			seg = "_"
		}
		if i == len(path)-1 {
			if _, exists := m[seg].(map[string]any); !exists {
				m[seg] = v
			}
			return
		}
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
}

// listify turns maps whose keys are all 1-based indexes into lists (in
// index order), maps of entry.N.key/value pairs into maps, and
// lower-camels the other keys.
func listify(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if entries, ok := m["entry"].(map[string]any); ok && len(m) == 1 {
		out := map[string]any{}
		for _, e := range entries {
			if kv, ok := e.(map[string]any); ok {
				if k, ok := kv["key"].(string); ok {
					out[k] = listify(kv["value"])
				}
			}
		}
		return out
	}
	idx := make([]int, 0, len(m))
	for k := range m {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 {
			idx = nil
			break
		}
		idx = append(idx, n)
	}
	if len(idx) > 0 {
		sort.Ints(idx)
		list := make([]any, 0, len(idx))
		for _, n := range idx {
			list = append(list, listify(m[strconv.Itoa(n)]))
		}
		return list
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		out[awsapi.LowerCamel(k)] = listify(val)
	}
	return out
}

// matchRoute finds the first route for service and method whose pattern
// matches path, and returns it with the path's parameters.
func matchRoute(routes []Route, service, method, path string) (Route, map[string]any, bool) {
	for _, rt := range routes {
		if rt.Service != "" && rt.Service != service {
			continue
		}
		if rt.Method != "" && !strings.EqualFold(rt.Method, method) {
			continue
		}
		if params, ok := matchPattern(rt.Pattern, path); ok {
			return rt, params, true
		}
	}
	return Route{}, nil, false
}

// matchPattern matches path against a pattern of literal segments and
// {Name} segments; a last {Name+} takes the rest of the path.
func matchPattern(pattern, path string) (map[string]any, bool) {
	pattern, _, _ = strings.Cut(pattern, "?")
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]any{}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") && i == len(ps)-1 {
			if i >= len(xs) || xs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-2]] = strings.Join(xs[i:], "/")
			return params, true
		}
		if i >= len(xs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if xs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = xs[i]
			continue
		}
		if p != xs[i] {
			return nil, false
		}
	}
	if len(xs) != len(ps) {
		return nil, false
	}
	return params, true
}
