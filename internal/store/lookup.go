package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// lookups is the store's read side for Lookup: the plan's phases over the
// day index, the hot tier and the columnar files, and the upgrades that
// build those indexes (day index keys, the failed column, the event
// locator) in a store made before them. It is the Store itself, seen
// through the methods only Lookup and Open use, so that Store's own method
// set stays the store's API and its write side.
type lookups struct{ *Store }

// Lookup returns the events q selects, newest first (eventTime, then
// sequence number, descending), at most q.Limit of them.
//
// A selective attribute (any the day index covers: not ReadOnly, EventId,
// SourceIPAddress or ErrorCode) is searched in
// slices of time, newest first: a day, then four times wider each round,
// until q.Limit events are found or q.Start is reached. DuckDB skips row
// groups by their event_time range, so a recent match is found without
// reading the whole history, and an old or absent one costs one scan in
// all.
//
// It runs in phases over one lookupPlan:
//
//	planLookup   q validated and turned into column predicates and a time
//	             range
//	lookupDays   (selective attribute only) the value's days read from the
//	             day index, the range narrowed to them; none: the answer is
//	             empty at once
//	searchDays   the days searched newest first in widening slices
//	confirm      events whose eventID is not the one asked for dropped
//	             (eid_hash only narrows), and with Failures any event
//	             that is not a failed call (the SQL decides; the record
//	             has the last word)
//
// Without a selective attribute the whole range is one query. When
// confirm drops events from a full answer, the search goes on after the
// last event it examined until q.Limit events are kept or none are left.
func (s *Store) Lookup(ctx context.Context, q LookupQuery) ([]Event, error) {
	var out []Event
	for {
		p, err := planLookup(q)
		if err != nil {
			return nil, err
		}
		evs, err := lookups{s}.lookupPlan(ctx, p)
		if err != nil {
			return nil, err
		}
		if len(evs) < q.Limit {
			return append(out, p.confirm(evs)...), nil
		}
		last := evs[len(evs)-1]
		kept := p.confirm(evs)
		out = append(out, kept...)
		if len(kept) == len(evs) {
			return out, nil
		}
		q.After = &Position{Time: last.Rec.EventTime, Seq: last.Seq}
		q.Limit -= len(kept)
	}
}

// lookupPlan runs the plan's phases after planLookup: at most p.limit
// events, not yet confirmed.
func (s lookups) lookupPlan(ctx context.Context, p *lookupPlan) ([]Event, error) {
	if !s.mayHold(p.eids) {
		return nil, nil
	}
	if !p.selective {
		return s.lookupSlice(ctx, p, p.start, p.end, true, p.limit)
	}
	days, err := s.lookupDays(ctx, p)
	if err != nil || len(days) == 0 {
		return nil, err
	}
	return s.searchDays(ctx, p, days)
}

// lookupPlan is one Lookup worked out: the column predicates every query of
// it shares and the eventTime range left to search.
type lookupPlan struct {
	where []string // predicates, ANDed; attributes first
	args  []any    // where's arguments, in order
	// The same predicates over the columnar files' relation (coldRel),
	// where EventId is matched on the eventID itself.
	coldWhere  []string
	coldArgs   []any
	eids       []string // EventId values, which confirm checks
	failures   bool     // q.Failures, which confirm checks
	brief      bool     // q.Brief
	selective  bool     // an attribute the day index narrows (selAttr)
	selAttr    Attr     // the first attribute the day index knows
	accounts   []string // q.Accounts, for the day index
	region     string   // q.Region, for choosing columnar files
	start, end time.Time
	limit      int
}

// planLookup validates q and turns it into a plan: a predicate per
// condition, and the range [q.Start, q.End] cut at q.After. It reads
// nothing; an unknown attribute or a Limit below 1 is an error.
func planLookup(q LookupQuery) (*lookupPlan, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("lookup: limit must be positive")
	}
	p := &lookupPlan{accounts: q.Accounts, region: q.Region, start: q.Start, end: q.End, limit: q.Limit, brief: q.Brief}
	// Attribute predicates first: DuckDB evaluates pushed-down filters in
	// the order written, and these are the most selective.
	for _, a := range q.Attrs {
		if _, ok := dayAttr[a.Key]; ok && p.selAttr.Key == "" {
			p.selAttr = a
		}
		switch a.Key {
		case "EventId":
			p.addSplit("eid_hash = ?", int64(hashID(a.Value)), "event_id = ?", a.Value)
			p.eids = append(p.eids, a.Value)
		case "EventName":
			p.add("event_name = ?", a.Value)
			p.selective = true
		case "EventSource":
			p.add("event_source = ?", a.Value)
			p.selective = true
		case "Username":
			p.add("username = ?", a.Value)
			p.selective = true
		case "AccessKeyId":
			p.add("access_key_id = ?", a.Value)
			p.selective = true
		case "ReadOnly":
			p.add("coalesce(read_only, false) = ?", a.Value == "true")
		case "ResourceType":
			p.add("list_contains(resource_types, ?)", a.Value)
			p.selective = true
		case "ResourceName":
			p.add("list_contains(resource_names, ?)", a.Value)
			p.selective = true
		case "SourceIPAddress":
			p.add("source_ip = ?", a.Value)
		case "ErrorCode":
			p.add("error_code = ?", a.Value)
		default:
			return nil, fmt.Errorf("lookup: unknown attribute %q", a.Key)
		}
	}
	if len(q.Accounts) > 0 {
		args := make([]any, len(q.Accounts))
		for i, a := range q.Accounts {
			args[i] = a
		}
		p.add("account IN ("+placeholders(len(q.Accounts))+")", args...)
	}
	if q.Region != "" {
		p.add("region = ?", q.Region)
	}
	if len(q.Categories) > 0 {
		args := make([]any, len(q.Categories))
		for i, c := range q.Categories {
			args[i] = c
		}
		p.add("category IN ("+placeholders(len(q.Categories))+")", args...)
	}
	if q.Failures {
		p.add("failed")
		p.failures = true
	}
	if q.After != nil {
		t := q.After.Time.UTC()
		p.add("(event_time < ? OR (event_time = ? AND seq < ?))", t, t, q.After.Seq)
		if p.end.IsZero() || q.After.Time.Before(p.end) {
			p.end = q.After.Time
		}
	}
	return p, nil
}

// add appends one predicate and its arguments, for both tiers.
func (p *lookupPlan) add(pred string, args ...any) {
	p.where = append(p.where, pred)
	p.args = append(p.args, args...)
	p.coldWhere = append(p.coldWhere, pred)
	p.coldArgs = append(p.coldArgs, args...)
}

// addSplit appends a predicate written differently for the events table
// and for the columnar files.
func (p *lookupPlan) addSplit(hot string, hotArg any, cold string, coldArg any) {
	p.where = append(p.where, hot)
	p.args = append(p.args, hotArg)
	p.coldWhere = append(p.coldWhere, cold)
	p.coldArgs = append(p.coldArgs, coldArg)
}

// lookupDays reads the days on which the plan's selective value occurs in
// its accounts within its range, newest first, and narrows the range to
// them: nothing with the value lies before its oldest day or past its
// newest. No days means the answer is empty, and the plan is left as it
// was.
func (s lookups) lookupDays(ctx context.Context, p *lookupPlan) ([]int32, error) {
	loDay, hiDay := int32(math.MinInt32), int32(math.MaxInt32)
	if !p.start.IsZero() {
		loDay = dayOf(p.start)
	}
	if !p.end.IsZero() {
		hiDay = dayOf(p.end)
	}
	days, err := s.valueDays(ctx, dayAttr[p.selAttr.Key], p.accounts, p.selAttr.Value, loDay, hiDay)
	if err != nil || len(days) == 0 {
		return nil, err
	}
	if oldest := dayStart(days[len(days)-1]); p.start.IsZero() || oldest.After(p.start) {
		p.start = oldest
	}
	if newest := dayStart(days[0]).Add(24 * time.Hour); p.end.IsZero() || newest.Before(p.end) {
		// The first slice starts there (exclusive: that instant is the
		// next day).
		p.end = newest.Add(-time.Nanosecond)
	}
	return days, nil
}

// searchDays searches the plan's range newest first in slices of a day,
// then four times wider each round, until p.limit events are found or the
// range is exhausted. Each slice is narrowed to the value's days inside it
// (days, newest first, as lookupDays returns them) and skipped when it has
// none, so one query reads only row groups that may hold a match.
func (s lookups) searchDays(ctx context.Context, p *lookupPlan, days []int32) ([]Event, error) {
	var evs []Event
	hi, inclusive := p.end, true
	const maxWidth = 100 * 365 * 24 * time.Hour // time.Duration overflows near 292 years
	for width := 24 * time.Hour; ; width = min(width, maxWidth/4) * 4 {
		lo, last := p.start, true
		if width < hi.Sub(p.start) {
			lo, last = hi.Add(-width), false
		}
		// Narrow the slice to the value's days inside it, or skip it.
		var newest, oldest int32
		found := false
		for _, d := range days {
			ds := dayStart(d)
			if !ds.Add(24*time.Hour).After(lo) || ds.After(hi) {
				continue
			}
			if !found {
				newest = d
			}
			oldest, found = d, true
		}
		if found {
			qlo, qhi, qinc := lo, hi, inclusive
			if e := dayStart(newest).Add(24 * time.Hour); e.Before(qhi) {
				qhi, qinc = e, false
			}
			if b := dayStart(oldest); b.After(qlo) {
				qlo = b
			}
			r, err := s.lookupSlice(ctx, p, qlo, qhi, qinc, p.limit-len(evs))
			if err != nil {
				return nil, err
			}
			evs = append(evs, r...)
		}
		if len(evs) >= p.limit || last {
			return evs, nil
		}
		hi, inclusive = lo, false
	}
}

// confirm keeps the events whose eventID is every EventId value asked for
// (the eid_hash predicate narrows, the IDs themselves decide) and, with
// Failures, that are failed calls by their records. It filters evs in
// place.
func (p *lookupPlan) confirm(evs []Event) []Event {
	if len(p.eids) == 0 && !p.failures {
		return evs
	}
	kept := evs[:0]
	for _, e := range evs {
		ok := !p.failures || e.Failed()
		for _, id := range p.eids {
			if e.Rec.EventID != id {
				ok = false
			}
		}
		if ok {
			kept = append(kept, e)
		}
	}
	return kept
}

// mayHold reports whether every eventID in ids may be stored: false when
// one's hash is not in the in-memory set of stored eventIDs, so a lookup of
// an unknown EventId answers at once instead of scanning every eventID.
// (The set may hold hashes of deleted events; a true only narrows.)
func (s lookups) mayHold(ids []string) bool {
	if len(ids) == 0 {
		return true
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, id := range ids {
		if !s.ids.has(hashID(id)) {
			return false
		}
	}
	return true
}

// dayStart is the first instant of a day number.
func dayStart(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// lookupSlice runs one query of the plan over event_time in [lo, hi] (hi
// exclusive unless inclusive; a zero bound is open), newest first, at most
// limit events.
func (s lookups) lookupSlice(ctx context.Context, p *lookupPlan, lo, hi time.Time, inclusive bool, limit int) ([]Event, error) {
	w := append([]string(nil), p.where...)
	a := append([]any(nil), p.args...)
	cw := append([]string(nil), p.coldWhere...)
	ca := append([]any(nil), p.coldArgs...)
	if !lo.IsZero() {
		w, cw = append(w, "event_time >= ?"), append(cw, "event_time >= ?")
		a, ca = append(a, lo.UTC()), append(ca, lo.UTC())
	}
	if !hi.IsZero() {
		pred := "event_time < ?"
		if inclusive {
			pred = "event_time <= ?"
		}
		w, cw = append(w, pred), append(cw, pred)
		a, ca = append(a, hi.UTC()), append(ca, hi.UTC())
	}
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	q := "SELECT seq, ingest_time, block, idx FROM events"
	if len(w) > 0 {
		q += " WHERE " + strings.Join(w, " AND ")
	}
	evs, err := s.queryEvents(ctx, q+" ORDER BY event_time DESC, seq DESC LIMIT ?", append(a, limit)...)
	if err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	// With EventId, the files the locator places those eventIDs in, and
	// only their rows.
	var places []eventPlace
	if len(p.eids) > 0 {
		if places, err = s.cold.locate(ctx, p.eids); err != nil {
			return nil, fmt.Errorf("lookup: %w", err)
		}
		if len(places) == 0 {
			return evs, nil
		}
		seqs := make([]any, len(places))
		for i, pl := range places {
			seqs[i] = pl.seq
		}
		cw, ca = append(cw, "seq IN ("+placeholders(len(seqs))+")"), append(ca, seqs...)
	}
	// The columnar files of the plan's accounts and region whose days
	// meet the slice.
	files := s.cold.filesWhere(func(f ColdFile) bool {
		if places != nil && !f.holds(places) {
			return false
		}
		if len(p.accounts) > 0 && !slices.Contains(p.accounts, f.Account) {
			return false
		}
		if p.region != "" && f.Region != p.region {
			return false
		}
		if !lo.IsZero() && f.MaxTime.Before(lo.UTC()) {
			return false
		}
		return hi.IsZero() || !f.MinTime.After(hi.UTC())
	})
	if len(files) == 0 {
		return evs, nil
	}
	read := s.cold.events
	if p.brief {
		read = s.cold.briefEvents
	}
	var cevs []Event
	if places != nil {
		// A handful of rows at known places: read them at once.
		cevs, err = read(ctx, files, strings.Join(cw, " AND "), ca, fmt.Sprintf("ORDER BY event_time DESC, seq DESC LIMIT %d", limit))
	} else {
		cevs, err = s.cold.lookup(ctx, files, strings.Join(cw, " AND "), ca, limit, read)
	}
	if err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	// Both lists are newest first; merge them and keep limit.
	all := append(evs, cevs...)
	slices.SortFunc(all, func(x, y Event) int {
		if c := y.Rec.EventTime.Compare(x.Rec.EventTime); c != 0 {
			return c
		}
		return cmp.Compare(y.Seq, x.Seq)
	})
	return all[:min(len(all), limit)], nil
}

// lookup finds the newest limit events of files that match where (over
// coldRel's columns), newest first. A file holds one day of eventTime, so
// the days are read newest first and the search stops at the first run of
// days that completes limit events: no older day can hold a newer one.
// The runs double in length (a day, then two, four, …, at most 32), so a
// value found in the newest day costs one small query and a rare or
// absent one a handful rather than one per day. Each query reads only the
// narrow columns the predicates and the order need, and names the file
// of each event it finds; the chosen events' records are read afterwards,
// by sequence number, from those files only (reading a record decompresses
// its row group's every column, the bulk of a lookup's cost).
func (c *cold) lookup(ctx context.Context, files []ColdFile, where string, args []any, limit int, read coldReader) ([]Event, error) {
	byDay := map[time.Time][]ColdFile{}
	var days []time.Time
	for _, f := range files {
		if _, ok := byDay[f.Day]; !ok {
			days = append(days, f.Day)
		}
		byDay[f.Day] = append(byDay[f.Day], f)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return b.Compare(a) })
	var seqs []any
	inFile := map[string]bool{} // the absolute paths of the files with a hit
	var from []ColdFile
	cond := ""
	if where != "" {
		cond = " WHERE " + where
	}
	for run := 1; len(days) > 0; run = min(run*2, 32) {
		var day []ColdFile
		for _, d := range days[:min(run, len(days))] {
			day = append(day, byDay[d]...)
		}
		days = days[min(run, len(days)):]
		paths := make([]string, len(day))
		for i, f := range day {
			paths[i] = c.path(f.Path)
		}
		rows, err := c.st.db.QueryContext(ctx, `SELECT seq, _file FROM `+coldRel(paths)+cond+
			fmt.Sprintf(` ORDER BY event_time DESC, seq DESC LIMIT %d`, limit-len(seqs)), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				seq  int64
				file string
			)
			if err := rows.Scan(&seq, &file); err != nil {
				rows.Close()
				return nil, err
			}
			seqs = append(seqs, seq)
			inFile[file] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		from = append(from, day...)
		if len(seqs) >= limit {
			break
		}
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	var need []ColdFile
	for _, f := range from {
		if inFile[c.path(f.Path)] {
			need = append(need, f)
		}
	}
	return read(ctx, need, `seq IN (`+placeholders(len(seqs))+`)`, seqs, `ORDER BY event_time DESC, seq DESC`)
}

// coldReader reads the events of files that match where, ordered and
// limited by tail: cold.events (whole records) or cold.briefEvents.
type coldReader func(ctx context.Context, files []ColdFile, where string, args []any, tail string) ([]Event, error)
