package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
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
// configured [Route] whose service, method and pattern match (REST-JSON);
// Smithy RPC v2 CBOR for its header or /service/…/operation/… path; JSON
// when X-Amz-Target is set; query when an Action parameter is in the
// query or in a form-encoded body; otherwise unknown. A gzipped body is
// read decoded. Identify never fails: a
// request it cannot name gets a name made from its method and the first
// segment of its path ("GET /users"), which no AWS operation looks like,
// and its query and JSON body as parameters.
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
	body = decoded(r.Header, body)
	if rt, params, ok := matchRoute(o.Routes, service, r); ok {
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
	if name, ok := cborOperation(r); ok {
		c.Protocol, c.Name = ProtocolCBOR, name
		c.ReadOnly = readOnlyName(c.Name)
		if m := cborObject(body); m != nil {
			c.Params = red.params(awsapi.LowerCamelKeys(m).(map[string]any))
		}
		return c
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" && t[strings.LastIndexByte(t, '.')+1:] != "" {
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
	for k, v := range jsonObject(body) {
		params[k] = v
	}
	if len(params) > 0 {
		c.Params = red.params(awsapi.LowerCamelKeys(params).(map[string]any))
	}
	return c
}

// BodyRecorded reports whether [Identify] records r's body among the
// call's parameters, so that a proxy reads it (bounded) before naming the
// call: every JSON, query and REST-JSON call's, and an S3 bucket
// configuration call's (PutBucketPolicy, CreateBucket with a
// CreateBucketConfiguration, PutBucketTagging, PutBucketAcl, ...), whose
// bodies are small documents. Never an S3 object call's: objects stream.
func BodyRecorded(r *http.Request, service string) bool {
	if service != "s3" {
		return true
	}
	bucket, key := s3op.Target(r.Host, r.URL.Path)
	if bucket == "" || key != "" {
		return false
	}
	op := s3op.Classify(r.Method, bucket, key, r.URL.Query(), r.Header)
	return op.Name != "" && !op.ReadOnly && !op.Data
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
	if len(body) > 0 && bucket != "" && key == "" && op.Name != "" && !c.Data && !c.ReadOnly {
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

// maxDecodedBody bounds a compressed input's decoded size.
const maxDecodedBody = 16 << 20

// decoded returns body without the Content-Encoding h gives it: the SDKs
// gzip large inputs (CloudWatch's PutMetricData), upstreams their answers
// to clients that accept it. A body that does not decode, or decodes
// larger than maxDecodedBody, is nil: it is not recorded.
func decoded(h http.Header, body []byte) []byte {
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if len(body) == 0 || enc == "" || enc == "identity" {
		return body
	}
	if enc != "gzip" {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxDecodedBody+1))
	if err != nil || len(out) > maxDecodedBody {
		return nil
	}
	return out
}

// cborOperation returns the operation a Smithy RPC v2 CBOR request names:
// POST /service/<ServiceShape>/operation/<Operation>.
func cborOperation(r *http.Request) (string, bool) {
	if !awsapi.IsCBORRequest(r) {
		return "", false
	}
	_, op, ok := strings.Cut(r.URL.Path, "/operation/")
	if !ok || op == "" || strings.Contains(op, "/") {
		return "", false
	}
	return op, true
}

// cborObject decodes a CBOR map body into the JSON object AWS JSON would
// carry (timestamps as epoch seconds, byte strings base64), or nil.
func cborObject(body []byte) map[string]any {
	if len(body) == 0 {
		return nil
	}
	j, err := awsapi.CBORToJSON(body)
	if err != nil {
		return nil
	}
	return jsonObject(j)
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

// matchRoute finds the route for service and method whose pattern
// matches the request's path and query best — the most literal segments
// and query requirements, the first of equals — and returns it with the
// path's parameters.
func matchRoute(routes []Route, service string, r *http.Request) (Route, map[string]any, bool) {
	var best Route
	var bestParams map[string]any
	bestScore := -1
	q := r.URL.Query()
	for _, rt := range routes {
		if rt.Service != "" && rt.Service != service {
			continue
		}
		if rt.Method != "" && !strings.EqualFold(rt.Method, r.Method) {
			continue
		}
		if params, score, ok := matchPattern(rt.Pattern, r.URL.EscapedPath(), q); ok && score > bestScore {
			best, bestParams, bestScore = rt, params, score
		}
	}
	return best, bestParams, bestScore >= 0
}

// matchPattern matches an escaped path and its query against a pattern as
// a service model's http trait writes it: literal segments, {Name}
// segments, a last {Name+} taking the rest of the path, and after "?" the
// query parameters the request must have (name, or name=value). Path
// parameters are unescaped. The score counts literal segments and query
// requirements.
func matchPattern(pattern, path string, q url.Values) (map[string]any, int, bool) {
	pattern, query, _ := strings.Cut(pattern, "?")
	score := 0
	if query != "" {
		for _, req := range strings.Split(query, "&") {
			name, value, hasValue := strings.Cut(req, "=")
			if name == "" {
				continue
			}
			if !q.Has(name) || hasValue && q.Get(name) != value {
				return nil, 0, false
			}
			score++
		}
	}
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]any{}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") && i == len(ps)-1 {
			if i >= len(xs) || xs[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-2]] = unescape(strings.Join(xs[i:], "/"))
			return params, score, true
		}
		if i >= len(xs) {
			return nil, 0, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if xs[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-1]] = unescape(xs[i])
			continue
		}
		if p != unescape(xs[i]) {
			return nil, 0, false
		}
		score++
	}
	if len(xs) != len(ps) {
		return nil, 0, false
	}
	return params, score, true
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
