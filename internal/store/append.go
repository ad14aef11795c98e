package store

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
)

// Append stores recs in one transaction and returns once it is committed
// and fsynced. dup[i] reports that recs[i] was not stored because an event
// with its eventID is already stored (or appears earlier in recs). On error
// nothing from recs is stored.
func (s *Store) Append(ctx context.Context, recs []*event.Record, ingestTime time.Time) (dup []bool, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wconn == nil {
		return nil, fmt.Errorf("append: store is closed")
	}

	dup = make([]bool, len(recs))
	hashes := make([]uint64, len(recs))
	var batch map[string]struct{}
	if len(recs) > 1 {
		batch = make(map[string]struct{}, len(recs))
	}
	accepted := make([]int, 0, len(recs))
	for i, r := range recs {
		if batch != nil {
			if _, ok := batch[r.EventID]; ok {
				dup[i] = true
				continue
			}
			batch[r.EventID] = struct{}{}
		}
		h := hashID(r.EventID)
		hashes[i] = h
		if s.ids.has(h) {
			exists, err := s.eventIDStored(ctx, h, r.EventID)
			if err != nil {
				return nil, err
			}
			if exists {
				dup[i] = true
				continue
			}
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		return dup, nil
	}

	// Compress the accepted records in blocks, in parallel.
	nblocks := (len(accepted) + BlockSize - 1) / BlockSize
	blocks := make([][]byte, nblocks)
	raws := make([][][]byte, nblocks)
	var wg sync.WaitGroup
	for b := 0; b < nblocks; b++ {
		lo, hi := b*BlockSize, min((b+1)*BlockSize, len(accepted))
		rs := make([][]byte, 0, hi-lo)
		for _, i := range accepted[lo:hi] {
			rs = append(rs, recs[i].Raw)
		}
		raws[b] = rs
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocks[b] = s.enc.EncodeAll(bytes.Join(rs, []byte{'\n'}), nil)
		}()
	}
	wg.Wait()

	ingestTime = ingestTime.UTC()
	if err := s.exec(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, err
	}
	commit := false
	defer func() {
		if !commit {
			if rerr := s.exec(context.Background(), "ROLLBACK"); rerr != nil {
				s.log.Error("rollback failed", "err", rerr)
			}
			s.resetAppenders()
		}
	}()

	seq := s.nextSeq
	for b := 0; b < nblocks; b++ {
		if err := s.blkApp.AppendRow(s.nextBlock+int64(b), seq+int64(b*BlockSize), int32(len(raws[b])), blocks[b]); err != nil {
			return nil, fmt.Errorf("append block: %w", err)
		}
	}
	for k, i := range accepted {
		r := recs[i]
		var ro any
		if r.ReadOnlySet {
			ro = r.ReadOnly
		}
		types, names := resourceColumns(r.Resources)
		if err := s.evApp.AppendRow(
			seq+int64(k), ingestTime, r.EventTime.UTC(), int64(hashes[i]),
			r.AccountID, r.AWSRegion, r.EventCategory, r.EventSource, r.EventName,
			r.Username, r.AccessKeyID, ro, r.ErrorCode, r.SourceIP,
			types, names,
			s.nextBlock+int64(k/BlockSize), uint16(k%BlockSize),
		); err != nil {
			return nil, fmt.Errorf("append event: %w", err)
		}
	}
	if err := s.blkApp.Flush(); err != nil {
		return nil, fmt.Errorf("flush blocks: %w", err)
	}
	if err := s.evApp.Flush(); err != nil {
		return nil, fmt.Errorf("flush events: %w", err)
	}
	if err := s.exec(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	commit = true

	for _, i := range accepted {
		s.ids.add(hashes[i])
	}
	for b := 0; b < nblocks; b++ {
		s.cache.put(s.nextBlock+int64(b), raws[b])
	}
	s.nextSeq += int64(len(accepted))
	s.nextBlock += int64(nblocks)
	return dup, nil
}

func (s *Store) exec(ctx context.Context, q string) error {
	if _, err := s.wconn.(driver.ExecerContext).ExecContext(ctx, q, nil); err != nil {
		return fmt.Errorf("%s: %w", strings.ToLower(q), err)
	}
	return nil
}

// resetAppenders replaces the appenders after a failed transaction, whose
// buffered rows must not leak into the next one.
func (s *Store) resetAppenders() {
	s.evApp.Close()
	s.blkApp.Close()
	var err error
	if s.evApp, err = duckdb.NewAppenderFromConn(s.wconn, "", "events"); err != nil {
		s.log.Error("recreate events appender", "err", err)
	}
	if s.blkApp, err = duckdb.NewAppenderFromConn(s.wconn, "", "blocks"); err != nil {
		s.log.Error("recreate blocks appender", "err", err)
	}
}

// eventIDStored resolves a hash hit: it reads the stored records whose
// eventID hashes alike and compares the IDs themselves.
func (s *Store) eventIDStored(ctx context.Context, h uint64, id string) (bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT block, idx FROM events WHERE eid_hash = ?`, int64(h))
	if err != nil {
		return false, fmt.Errorf("check event id: %w", err)
	}
	type loc struct {
		block int64
		idx   uint16
	}
	var locs []loc
	for rows.Next() {
		var l loc
		if err := rows.Scan(&l.block, &l.idx); err != nil {
			rows.Close()
			return false, fmt.Errorf("check event id: %w", err)
		}
		locs = append(locs, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("check event id: %w", err)
	}
	for _, l := range locs {
		raw, err := s.record(ctx, l.block, l.idx)
		if err != nil {
			return false, err
		}
		if fastjson.GetString(raw, "eventID") == id {
			return true, nil
		}
	}
	return false, nil
}

// resourceColumns gives the values LookupEvents matches ResourceType and
// ResourceName against: each resource's type, and its name both as given
// (usually an ARN) and as the ARN's last element.
func resourceColumns(rs []event.Resource) (types, names []string) {
	if len(rs) == 0 {
		return nil, nil
	}
	for _, r := range rs {
		if r.Type != "" {
			types = append(types, r.Type)
		}
		if r.Name != "" {
			names = append(names, r.Name)
			if short := shortName(r.Name); short != r.Name {
				names = append(names, short)
			}
		}
	}
	return types, names
}

func shortName(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return arn
	}
	i := strings.LastIndexAny(arn, "/:")
	if i < 0 || i == len(arn)-1 {
		return arn
	}
	return arn[i+1:]
}
