package event

import "errors"

// ParseBody calls fn with each record of body parsed by ParseLenient(raw,
// opts): rec, repairs and err are what that call returns. Its results,
// errors included, are those of
//
//	SplitBody(body, maxRecords, func(raw []byte) error {
//		return fn(ParseLenient(raw, opts))
//	})
//
// but a {"Records":[...]} document, the form of CloudTrail's log files, is
// read in one pass: each record is parsed where it stands instead of being
// found first and parsed after. As with SplitBody, fn is not called at all
// for a body that cannot be split. A body whose records are not all
// well-formed JSON takes SplitBody's path, so bad files are reported
// exactly as SplitBody and ParseLenient report them.
func ParseBody(body []byte, maxRecords int, opts LenientOptions, fn func(rec *Record, repairs []Repair, err error) error) error {
	slow := func() error {
		return SplitBody(body, maxRecords, func(raw []byte) error {
			return fn(ParseLenient(raw, opts))
		})
	}
	if maxRecords <= 0 {
		maxRecords = DefaultMaxRecords
	}
	i := skipWS(body, 0)
	if i == len(body) || !isRecordsDoc(body, i) {
		return slow()
	}
	type parsed struct {
		rec     *Record
		repairs []Repair
		err     error
	}
	var out []parsed
	p := parsers.Get().(*parser)
	ok := func() bool {
		defer func() {
			p.release()
			parsers.Put(p)
		}()
		i = skipWS(body, i+1) // '{'
		i = skipWS(body, i+len(`"Records"`))
		i = skipWS(body, i+1) // ':'
		if i >= len(body) || body[i] != '[' {
			return false
		}
		i++
		for {
			i = skipWS(body, i)
			if i >= len(body) {
				return false
			}
			if body[i] == ']' {
				i++
				break
			}
			if len(out) > 0 {
				if body[i] != ',' {
					return false
				}
				i = skipWS(body, i+1)
			}
			if i >= len(body) || body[i] != '{' || len(out) == maxRecords {
				return false
			}
			rec, n, err := p.parsePrefix(body[i:])
			p.release()
			if n == 0 {
				return false // not well-formed: SplitBody and Parse say how
			}
			var r parsed
			if err == nil {
				r.rec = rec
			} else {
				// Not a valid record: ParseLenient repairs what it can.
				var verr *ValidationError
				if errors.As(err, &verr) || errors.Is(err, ErrTooLarge) {
					r.rec, r.repairs, r.err = ParseLenient(body[i:i+n], opts)
				} else {
					return false
				}
			}
			out = append(out, r)
			i += n
		}
		i = skipWS(body, i)
		if i >= len(body) || body[i] != '}' {
			return false
		}
		return skipWS(body, i+1) == len(body)
	}()
	if !ok {
		return slow()
	}
	for k, r := range out {
		if err := fn(r.rec, r.repairs, r.err); err != nil {
			return &BodyError{Where: element(k), Err: err}
		}
	}
	return nil
}
