package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/store"
)

// Downloads of a history view: GET /events.json and /events.csv with the
// view's filters, streamed newest first, at most DownloadLimit events.
// The limit is in the X-Opentrail-Row-Limit header; a download that
// reached it while more events matched ends with the trailer
// X-Opentrail-Truncated: true (and, in JSON, "Truncated" and the "After"
// token that continues it).

const (
	rowLimitHeader  = "X-Opentrail-Row-Limit"
	truncatedHeader = "X-Opentrail-Truncated"
)

// csvColumns are the CSV download's columns, named as the CloudTrail
// console's export names them.
var csvColumns = []string{"eventId", "eventTime", "username", "eventName", "eventSource", "resources", "awsRegion", "sourceIPAddress", "accessKeyId", "errorCode", "readOnly", "eventCategory", "recipientAccountId"}

// each calls fn with the events of f for u, newest first, until max have
// been given. Post-filtered views examine at most max×downloadScanFactor
// candidates. truncated is true when more events matched (or the scan
// bound was reached); next is then where the rest begins.
func (c historyPages) each(ctx context.Context, u *User, f *historyFilter, maxRows int, fn func(store.Event) error) (truncated bool, next *store.Position, err error) {
	q := f.query(u)
	lowerQ := bytes.ToLower([]byte(f.Q))
	scanLimit := maxRows * downloadScanFactor
	rows, scanned := 0, 0
	var last *store.Position
	for {
		q.Limit = 1000
		if f.postFiltered() {
			q.Limit = min(q.Limit, scanLimit-scanned)
		}
		evs, err := c.cfg.History.Events.Lookup(ctx, q)
		if err != nil {
			return false, nil, err
		}
		for i := range evs {
			e := evs[i]
			scanned++
			if f.postFiltered() && !f.keep(&e, lowerQ) {
				continue
			}
			if rows == maxRows {
				return true, last, nil
			}
			if err := fn(e); err != nil {
				return false, nil, err
			}
			rows++
			last = position(e)
		}
		if len(evs) < q.Limit {
			return false, nil, nil
		}
		q.After = position(evs[len(evs)-1])
		if f.postFiltered() && scanned >= scanLimit {
			return true, q.After, nil
		}
	}
}

// downloadStart writes a download's headers.
func (c historyPages) downloadStart(w http.ResponseWriter, ctype, ext string, limit int) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", `attachment; filename="opentrail-events-`+c.clock.Now().UTC().Format("20060102T150405Z")+`.`+ext+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set(rowLimitHeader, strconv.Itoa(limit))
	h.Set("Trailer", truncatedHeader)
	w.WriteHeader(http.StatusOK)
}

// historyJSON streams {"Records":[…]}: each stored record byte for byte,
// as in a CloudTrail log file.
func (c historyPages) historyJSON(w http.ResponseWriter, r *http.Request, s *Session) {
	f := c.historyView(w, r, s)
	if f == nil {
		return
	}
	limit := orDefault(c.cfg.History.DownloadLimit, defaultDownloadLimit)
	started := false
	start := func() {
		if !started {
			started = true
			c.downloadStart(w, "application/json", "json", limit)
			w.Write([]byte(`{"Records":[`))
		}
	}
	n := 0
	truncated, next, err := c.each(r.Context(), s.User, f, limit, func(e store.Event) error {
		start()
		if n > 0 {
			w.Write([]byte{','})
		}
		n++
		_, err := w.Write(e.Rec.Raw)
		return err
	})
	if err != nil {
		c.downloadFailed(w, r, s, err, started)
		return
	}
	start()
	w.Write([]byte{']'})
	if truncated {
		tok, _ := json.Marshal(c.afterToken(next))
		w.Write([]byte(`,"Truncated":true,"After":`))
		w.Write(tok)
		w.Header().Set(truncatedHeader, "true")
	}
	w.Write([]byte("}\n"))
}

// historyCSV streams the CloudTrail console's CSV columns, one row an
// event. A cell that a spreadsheet would run as a formula (=, +, -, @ at
// its start) is prefixed with an apostrophe.
func (c historyPages) historyCSV(w http.ResponseWriter, r *http.Request, s *Session) {
	f := c.historyView(w, r, s)
	if f == nil {
		return
	}
	limit := orDefault(c.cfg.History.DownloadLimit, defaultDownloadLimit)
	var cw *csv.Writer
	start := func() {
		if cw == nil {
			c.downloadStart(w, "text/csv; charset=utf-8", "csv", limit)
			cw = csv.NewWriter(w)
			cw.Write(csvColumns)
		}
	}
	n := 0
	truncated, _, err := c.each(r.Context(), s.User, f, limit, func(e store.Event) error {
		start()
		rec := e.Rec
		type res struct {
			ResourceType string `json:",omitempty"`
			ResourceName string `json:",omitempty"`
		}
		resources := ""
		if len(rec.Resources) > 0 {
			rs := make([]res, len(rec.Resources))
			for i, x := range rec.Resources {
				rs[i] = res{x.Type, x.Name}
			}
			b, _ := json.Marshal(rs)
			resources = string(b)
		}
		row := []string{rec.EventID, rec.EventTime.UTC().Format(time.RFC3339), rec.Username, rec.EventName, rec.EventSource, resources,
			rec.AWSRegion, rec.SourceIP, rec.AccessKeyID, rec.ErrorCode, rec.ReadOnlyString(), rec.EventCategory, rec.AccountID}
		for i, cell := range row {
			row[i] = safeCell(cell)
		}
		if n++; n%1000 == 0 {
			cw.Flush()
		}
		return cw.Write(row)
	})
	if err != nil {
		c.downloadFailed(w, r, s, err, cw != nil)
		return
	}
	start()
	cw.Flush()
	if truncated {
		w.Header().Set(truncatedHeader, "true")
	}
}

// safeCell keeps a spreadsheet from running a cell as a formula.
func safeCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// downloadFailed answers a download the store failed: an error page when
// nothing was sent yet, else a cut connection, so that the browser reports
// the download failed rather than keeping a file that looks whole.
func (c historyPages) downloadFailed(w http.ResponseWriter, r *http.Request, s *Session, err error, started bool) {
	c.log.Error("console: event download", "err", err)
	if started {
		panic(http.ErrAbortHandler)
	}
	c.errorPage(w, r, s, http.StatusInternalServerError, "The download failed", "The event store failed to answer: "+err.Error())
}
