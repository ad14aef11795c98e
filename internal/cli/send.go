package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/event"
)

type sendCmd struct{ env *Env }

func (*sendCmd) Name() string { return "send" }
func (*sendCmd) Synopsis() string {
	return "send CloudTrail records (NDJSON, {\"Records\":[...]} documents, a JSON array; .gz too) to a server"
}

// sendBatch is how many records one request carries.
const sendBatch = 2000

func (c *sendCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "send", "[flags] FILE... (- for standard input)")
	var cf clientFlags
	cf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	var total postResult
	for _, f := range files {
		r, err := c.sendFile(ctx, cl, f)
		total.add(r)
		if err != nil {
			if total.Accepted+total.Duplicates+total.Conflicts > 0 {
				// What the server acknowledged before the failure is
				// stored: say how much it was.
				fmt.Fprintln(c.env.Stdout, total)
			}
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	fmt.Fprintln(c.env.Stdout, total)
	return nil
}

// postResult is the answer of POST /v1/events.
type postResult struct {
	Accepted    int      `json:"accepted"`
	Duplicates  int      `json:"duplicates"`
	Conflicts   int      `json:"conflicts"`
	ConflictIDs []string `json:"conflictIds"`
}

// add adds r's counts to p, keeping the first few conflicting eventIDs.
func (p *postResult) add(r postResult) {
	p.Accepted += r.Accepted
	p.Duplicates += r.Duplicates
	p.Conflicts += r.Conflicts
	for _, id := range r.ConflictIDs {
		if len(p.ConflictIDs) < 10 {
			p.ConflictIDs = append(p.ConflictIDs, id)
		}
	}
}

// String is the line send and demo print.
func (p postResult) String() string {
	s := fmt.Sprintf("accepted %d, duplicates %d", p.Accepted, p.Duplicates)
	if p.Conflicts > 0 {
		s += fmt.Sprintf(", conflicting duplicates %d (not stored: their account and eventID are stored with other content; eventIDs %s)",
			p.Conflicts, strings.Join(p.ConflictIDs, ", "))
	}
	return s
}

// utf8BOM is the byte order mark some Windows tools write at the start of
// a UTF-8 file; it is no part of the JSON.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

func (c *sendCmd) sendFile(ctx context.Context, cl *client.Client, name string) (postResult, error) {
	var (
		data []byte
		err  error
	)
	if name == "-" {
		data, err = io.ReadAll(c.env.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return postResult{}, err
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return postResult{}, fmt.Errorf("gunzip: %w", err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return postResult{}, fmt.Errorf("gunzip: %w", err)
		}
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	var (
		total postResult
		batch [][]byte
		where []string // where each record of batch is in the file
		sent  int      // records of the file sent before batch
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		r, err := PostEvents(ctx, cl, batch)
		total.add(r)
		if err != nil {
			return batchError(err, where, sent, total)
		}
		sent += len(batch)
		batch, where = batch[:0], where[:0]
		return nil
	}
	err = eachRecord(data, func(raw []byte, at string) error {
		// The request is NDJSON: a record pretty-printed over several
		// lines (as in an indented {"Records":[...]} document) is sent
		// on one.
		if bytes.IndexByte(raw, '\n') >= 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return fmt.Errorf("%s: invalid JSON: %v", at, err)
			}
			raw = buf.Bytes()
		}
		batch = append(batch, raw)
		where = append(where, at)
		if len(batch) == sendBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return total, err
	}
	return total, flush()
}

// eachRecord calls fn with each record of a file and where it is in the
// file ("line 7" or "Records[3]", as the server names records), and stops
// at fn's first error, which it returns as it is: NDJSON or
// a {"Records":[...]} document (event.SplitBody), one JSON document
// over several lines, a record or a document with a Records array among
// its members, such documents and records one after another, or a JSON
// array of records ("[3]").
func eachRecord(data []byte, fn func(raw []byte, where string) error) error {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return fmt.Errorf("not a JSON array of records: %v", err)
		}
		for k, e := range elems {
			if err := fn(e, "["+strconv.Itoa(k)+"]"); err != nil {
				return err
			}
		}
		return nil
	}
	if top, ok := oneDocument(data); ok {
		recs, isLog := top["Records"]
		if !isLog {
			return fn(bytes.TrimSpace(data), "the record")
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(recs, &elems); err != nil {
			return fmt.Errorf(`its "Records" member is not an array of records`)
		}
		for k, e := range elems {
			if err := fn(e, "Records["+strconv.Itoa(k)+"]"); err != nil {
				return err
			}
		}
		return nil
	}
	records := recordsFirst(data)
	if first, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte{'\n'}); !records && !json.Valid(first) {
		if docs, ok := jsonStream(data); ok {
			return eachInStream(docs, fn)
		}
	}
	k, line, lineAt := 0, 1, 0
	var fnErr error // fn's error, which says where itself
	err := event.SplitBody(data, 1<<30, func(raw []byte) error {
		at := "Records[" + strconv.Itoa(k) + "]"
		if !records {
			// raw is data[start:end], so its offset is what its
			// capacity lacks of data's.
			start := cap(data) - cap(raw)
			line += bytes.Count(data[lineAt:start], []byte{'\n'})
			lineAt = start
			at = "line " + strconv.Itoa(line)
		}
		k++
		fnErr = fn(raw, at)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	var be *event.BodyError
	if records && k == 0 && errors.As(err, &be) && be.Err == nil {
		// Not one Records document: perhaps several, one after another.
		if docs, ok := jsonStream(data); ok {
			return eachInStream(docs, fn)
		}
	}
	return err
}

// jsonStream splits data, JSON values one after another (zcat of several
// log files, jq's output of several records), into its values; ok is
// false unless there are at least two and all are objects.
func jsonStream(data []byte) (docs []json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return docs, len(docs) > 1
		}
		if err != nil || v[0] != '{' {
			return nil, false
		}
		docs = append(docs, v)
	}
}

// eachInStream calls fn with the records of the objects of a stream: a
// Records document's records ("document 2, Records[0]"), any other object
// as a record ("document 3").
func eachInStream(docs []json.RawMessage, fn func(raw []byte, where string) error) error {
	for d, doc := range docs {
		at := "document " + strconv.Itoa(d+1)
		var top map[string]json.RawMessage
		json.Unmarshal(doc, &top) // an object: jsonStream decoded it
		recs, isLog := top["Records"]
		if !isLog {
			if err := fn(doc, at); err != nil {
				return err
			}
			continue
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(recs, &elems); err != nil {
			return fmt.Errorf(`%s: its "Records" member is not an array of records`, at)
		}
		for k, e := range elems {
			if err := fn(e, at+", Records["+strconv.Itoa(k)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// oneDocument reports whether data is one JSON object that
// event.SplitBody does not read as it should: written over several lines
// (not NDJSON), or on one line with a Records member that is not its
// first; it returns the object's members.
func oneDocument(data []byte) (map[string]json.RawMessage, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || recordsFirst(data) {
		return nil, false
	}
	first, _, more := bytes.Cut(data, []byte{'\n'})
	if more && json.Valid(first) {
		return nil, false // NDJSON
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil, false
	}
	if _, isLog := top["Records"]; !more && !isLog {
		return nil, false // one record on one line: SplitBody's line 1
	}
	return top, true
}

// recordsFirst reports whether data is an object whose first member is
// "Records".
func recordsFirst(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	data = bytes.TrimLeft(data[1:], " \t\r\n")
	rest, ok := bytes.CutPrefix(data, []byte(`"Records"`))
	return ok && len(bytes.TrimLeft(rest, " \t\r\n")) > 0 && bytes.TrimLeft(rest, " \t\r\n")[0] == ':'
}

// requestLine matches the server's refusal of one record of a request:
// "line N: what is wrong; nothing from this request was stored".
var requestLine = regexp.MustCompile(`^line ([0-9]+): (.*); nothing from this request was stored$`)

// requestRecord matches the server's refusal of a record of another
// account: "record N (eventID X) belongs to account …".
var requestRecord = regexp.MustCompile(`^record ([0-9]+) (\(eventID .*)$`)

// batchError is err, the failure of the request carrying the records at
// where (the file's records sent + 1 and on), said in terms of the file:
// which record the server refused, that none of this request's records
// was stored, and what the requests before it stored.
func batchError(err error, where []string, sent int, stored postResult) error {
	what := err.Error()
	var api *client.APIError
	if errors.As(err, &api) {
		if m := requestLine.FindStringSubmatch(api.Message); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(where) {
				what = fmt.Sprintf("%s: %s (%s)", where[n-1], m[2], api.Code)
			}
		} else if m := requestRecord.FindStringSubmatch(api.Message); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(where) {
				what = fmt.Sprintf("%s: the record %s (%s)", where[n-1], m[2], api.Code)
			}
		}
	}
	msg := fmt.Sprintf("%s; records %d to %d of the file were not stored", what, sent+1, sent+len(where))
	if sent > 0 {
		msg += fmt.Sprintf(" (the %d before them were: %s)", sent, stored)
	}
	return errors.New(msg)
}

// PostEvents sends records as one NDJSON request to POST /v1/events,
// gzip-compressed unless the server is on this machine, where compressing
// costs both sides more CPU than the bytes it saves (measured: importing
// 1M events through a loopback server took 15.0 s with gzip).
func PostEvents(ctx context.Context, cl *client.Client, recs [][]byte) (postResult, error) {
	return postEvents(ctx, cl, "/v1/events", recs)
}

// PostImported is PostEvents for events imported from existing CloudTrail
// logs, which the server's retention spares.
func PostImported(ctx context.Context, cl *client.Client, recs [][]byte) (postResult, error) {
	return postEvents(ctx, cl, "/v1/events?imported=true", recs)
}

func postEvents(ctx context.Context, cl *client.Client, path string, recs [][]byte) (postResult, error) {
	var buf bytes.Buffer
	h := http.Header{}
	h.Set("Content-Type", "application/x-ndjson")
	if loopback(cl.Endpoint) {
		n := 0
		for _, r := range recs {
			n += len(r) + 1
		}
		buf.Grow(n)
		for _, r := range recs {
			buf.Write(r)
			buf.WriteByte('\n')
		}
	} else {
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		for _, r := range recs {
			zw.Write(r)
			zw.Write([]byte{'\n'})
		}
		zw.Close()
		h.Set("Content-Encoding", "gzip")
	}
	out, err := cl.Do(ctx, "opentrail", http.MethodPost, path, h, buf.Bytes())
	if err != nil {
		return postResult{}, err
	}
	var r postResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("unexpected answer %q: %w", strings.TrimSpace(string(out)), err)
	}
	return r, nil
}

// loopback reports whether endpoint's host is a loopback address or
// localhost.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
