package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Smithy RPC v2 CBOR: POST /service/<ServiceShape>/operation/<Op> with
// smithy-protocol: rpc-v2-cbor and a CBOR map body; answers are CBOR maps,
// timestamps tag 1 (epoch seconds), blobs byte strings.

const (
	contentTypeCBOR = "application/cbor"
	// CBOR decoding limits: nesting as for JSON; containers no larger
	// than the body could hold anyway (the front door bounds the body).
	maxCBORItems = 1 << 20
)

var cborDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  MaxJSONDepth,
		MaxArrayElements: maxCBORItems,
		MaxMapPairs:      maxCBORItems,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthAllowed,
		DefaultMapType:   reflect.TypeFor[map[string]any](),
		TimeTag:          cbor.DecTagOptional,
		TimeTagToAny:     cbor.TimeTagToTime,
		BigIntDec:        cbor.BigIntDecodePointer,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

var cborEnc = func() cbor.EncMode {
	m, err := cbor.EncOptions{}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// handleCBOR serves an RPC v2 CBOR request.
func (r *Router) handleCBOR(w http.ResponseWriter, req *http.Request, body []byte, enc encoder) {
	rest, ok := strings.CutPrefix(req.URL.Path, cborPathPrefix)
	svc, name, _ := strings.Cut(rest, "/operation/")
	if len(name) > maxOpName {
		name = name[:maxOpName]
	}
	var op *operation
	var err error
	var in []byte
	switch {
	case !ok || name == "" || strings.Contains(name, "/"):
		err = &Error{Code: CodeUnknownOperation, Status: http.StatusNotFound,
			Message: fmt.Sprintf("RPC v2 CBOR requests are sent to /service/%s/operation/<Operation>, not %s.", r.p.CBOR.ServiceShape, Clip(req.URL.Path, 256))}
		name = ""
	case svc != r.p.CBOR.ServiceShape:
		err = &Error{Code: CodeUnknownOperation, Status: http.StatusNotFound,
			Message: fmt.Sprintf("Unknown service %s: this endpoint serves %s.", Clip(svc, 128), r.p.CBOR.ServiceShape)}
	case req.Method != http.MethodPost:
		err = Errorf(CodeUnknownOperation, "Operation %s must be called with POST, not %s.", Clip(name, 128), Clip(req.Method, 16))
	default:
		if op = r.ops[name]; op == nil {
			err = &Error{Code: CodeUnknownOperation, Status: http.StatusNotFound, Message: fmt.Sprintf("Unknown operation %s.", Clip(name, 128))}
			break
		}
		var derr error
		if in, derr = CBORToJSON(body); derr != nil {
			op = failing(op, derr)
		}
	}
	r.d.run(w, req, in, name, op, err, enc)
}

// CBORToJSON decodes a request body of one CBOR map into the JSON object
// the operation's input decodes: timestamps (tag 1) become epoch seconds,
// byte strings base64 strings, as in AWS JSON. An empty body is {}.
// Errors are SerializationException naming the problem; nesting deeper
// than MaxJSONDepth and oversized containers are refused.
func CBORToJSON(body []byte) ([]byte, error) {
	if len(body) == 0 {
		return []byte("{}"), nil
	}
	var v any
	if err := cborDec.Unmarshal(body, &v); err != nil {
		return nil, NewError(CodeSerialization, "The request body is not valid CBOR: "+Clip(err.Error(), 200)+".")
	}
	if _, isMap := v.(map[string]any); !isMap {
		return nil, NewError(CodeSerialization, "The request body must be a CBOR map with text keys.")
	}
	j, err := cborJSON(v, 0)
	if err != nil {
		return nil, NewError(CodeSerialization, "The request body cannot be read: "+err.Error()+".")
	}
	return json.Marshal(j)
}

// cborJSON converts a decoded CBOR value to what encoding/json writes as
// AWS JSON.
func cborJSON(v any, depth int) (any, error) {
	if depth > MaxJSONDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels", MaxJSONDepth)
	}
	switch x := v.(type) {
	case nil, string, bool, uint64, int64, []byte:
		return x, nil
	case float64:
		return jsonFloat(x), nil
	case float32:
		return jsonFloat(float64(x)), nil
	case *big.Int:
		return json.Number(x.String()), nil
	case time.Time:
		if x.Year() < 1 || x.Year() > 9999 {
			return nil, errors.New("a timestamp is outside years 1 to 9999")
		}
		return json.Number(epochExact(x)), nil
	case map[string]any:
		for k, e := range x {
			c, err := cborJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case []any:
		for i, e := range x {
			c, err := cborJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case cbor.Tag:
		return nil, fmt.Errorf("CBOR tag %d is not used by this protocol", x.Number)
	case cbor.SimpleValue:
		return nil, nil // undefined and unassigned simple values read as absent
	}
	return nil, fmt.Errorf("a CBOR value of type %T is not used by this protocol", v)
}

// jsonFloat keeps what JSON cannot write (NaN, ±Infinity) as AWS JSON
// sends it: strings.
func jsonFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return formatFloat(f)
	}
	return f
}

// cborEncoder answers in RPC v2 CBOR.
type cborEncoder struct {
	types      map[string]string
	queryError bool
}

func (c cborEncoder) ok(w http.ResponseWriter, reqID, _ string, out any) error {
	tree, has, err := toTree(reflect.ValueOf(out), 0)
	if err != nil {
		return err
	}
	if !has {
		tree = object{}
	}
	b, err := cborEnc.Marshal(cborValue(tree))
	if err != nil {
		return err
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	writeBody(w, contentTypeCBOR, reqID, http.StatusOK, b)
	return nil
}

func (c cborEncoder) fail(w http.ResponseWriter, reqID string, e *Error) {
	h := w.Header()
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	if c.queryError {
		setQueryError(w, e)
	}
	code := e.Code
	if t := c.types[code]; t != "" {
		code = t
	}
	b, err := cborEnc.Marshal(map[string]string{"__type": code, "message": e.Message})
	if err != nil { // cannot happen for two strings
		b = nil
	}
	writeBody(w, contentTypeCBOR, reqID, e.HTTPStatus(), b)
}

// WriteCBORError writes err as an RPC v2 CBOR error, mapped as in
// WriteJSON11Error; queryError adds x-amzn-query-error.
func WriteCBORError(w http.ResponseWriter, reqID string, err error, queryError bool) {
	cborEncoder{queryError: queryError}.fail(w, reqID, AsError(context.Background(), nil, reqID, err))
}

// cborValue turns a tree into values the CBOR encoder writes as Smithy
// expects.
func cborValue(v any) any {
	switch x := v.(type) {
	case object:
		m := make(map[string]any, len(x))
		for _, mm := range x {
			m[mm.name] = cborValue(mm.v)
		}
		return m
	case mapValue:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cborValue(e)
		}
		return m
	case list:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = cborValue(e)
		}
		return l
	case stamp:
		t := time.Time(x)
		return cbor.Tag{Number: 1, Content: float64(t.UnixMilli()) / 1000}
	case blob:
		return []byte(x)
	case number:
		if i, ok := new(big.Int).SetString(string(x), 10); ok {
			if i.IsInt64() {
				return i.Int64()
			}
			if i.IsUint64() {
				return i.Uint64()
			}
		}
		var f float64
		_, _ = fmt.Sscan(string(x), &f)
		return f
	}
	return v
}
