package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/columnar"
	"github.com/opentrail/opentrail/internal/store"
)

// recordFunc is the name of the scalar function the event view uses to
// read a stored record. Queries may not call it themselves (validate
// refuses every function with the internal prefix); it works only inside
// Run, which puts a recordReader into the query's context.
const (
	internalPrefix = "__ot_"
	recordFunc     = internalPrefix + "record"
	// rebuildFunc rebuilds a columnar row's record JSON from its
	// columns (internal/columnar).
	rebuildFunc = internalPrefix + "rebuild"
)

// recordReader reads stored records through the store's block cache for
// one query; DuckDB may call it from several threads.
type recordReader struct {
	st *store.Store

	mu     sync.Mutex
	cache  map[int64][][]byte
	bytes  int64 // record bytes returned
	nread  int64 // records returned
	closed bool
}

// maxCachedBlocks bounds the decoded blocks one query keeps (256 records
// each).
const maxCachedBlocks = 128

func newRecordReader(st *store.Store) *recordReader {
	return &recordReader{st: st, cache: map[int64][][]byte{}}
}

// record returns the raw JSON of record idx of block.
func (r *recordReader) record(ctx context.Context, block int64, idx int) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("record reader is closed")
	}
	recs, ok := r.cache[block]
	if !ok {
		var err error
		if recs, err = r.st.Block(ctx, block); err != nil {
			return nil, err
		}
		if len(r.cache) >= maxCachedBlocks {
			clear(r.cache)
		}
		r.cache[block] = recs
	}
	if idx < 0 || idx >= len(recs) {
		return nil, fmt.Errorf("block %d has no record %d", block, idx)
	}
	r.bytes += int64(len(recs[idx]))
	r.nread++
	return recs[idx], nil
}

// stats returns the records and bytes read so far.
func (r *recordReader) stats() (records, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nread, r.bytes
}

func (r *recordReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

type readerKey struct{}

// recordUDF is __ot_record(block BIGINT, idx USMALLINT) → VARCHAR, the
// record's JSON text. It reads through the recordReader in the query's
// context and fails outside Run.
type recordUDF struct{}

func (*recordUDF) Config() duckdb.ScalarFuncConfig {
	bigint, _ := duckdb.NewTypeInfo(duckdb.TYPE_BIGINT)
	usmall, _ := duckdb.NewTypeInfo(duckdb.TYPE_USMALLINT)
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{
		InputTypeInfos: []duckdb.TypeInfo{bigint, usmall},
		ResultTypeInfo: varchar,
	}
}

func (*recordUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowContextExecutor: func(ctx context.Context, args []driver.Value) (any, error) {
		r, _ := ctx.Value(readerKey{}).(*recordReader)
		if r == nil {
			return nil, errors.New(recordFunc + " is only available to opentrail queries")
		}
		block, ok1 := args[0].(int64)
		idx, ok2 := args[1].(uint16)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: unexpected argument types %T, %T", recordFunc, args[0], args[1])
		}
		b, err := r.record(ctx, block, int(idx))
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}}
}

// registered remembers the databases __ot_record is registered in.
var (
	registerMu sync.Mutex
	registered = map[*sql.DB]bool{}
)

// ensureUDF registers __ot_record on conn's database once. DuckDB keeps
// scalar functions in the catalog, so one registration serves every
// connection.
func ensureUDF(db *sql.DB, conn *sql.Conn) error {
	registerMu.Lock()
	defer registerMu.Unlock()
	if registered[db] {
		return nil
	}
	if err := duckdb.RegisterScalarUDF(conn, recordFunc, &recordUDF{}); err != nil {
		return fmt.Errorf("register %s: %w", recordFunc, err)
	}
	registered[db] = true
	return nil
}

// rebuildUDF is __ot_rebuild(columns of columnar.Columns…) → VARCHAR, the
// record's JSON rebuilt from a columnar file's row, byte for byte as
// received.
type rebuildUDF struct{}

func (*rebuildUDF) Config() duckdb.ScalarFuncConfig {
	anyType, _ := duckdb.NewTypeInfo(duckdb.TYPE_ANY)
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{
		VariadicTypeInfo:    anyType,
		ResultTypeInfo:      varchar,
		SpecialNullHandling: true,
	}
}

func (*rebuildUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(args []driver.Value) (any, error) {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a
		}
		b, err := columnar.Rebuild(vals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rebuildFunc, err)
		}
		return string(b), nil
	}}
}

var rebuildRegistered = map[*sql.DB]bool{}

// ensureRebuildUDF registers __ot_rebuild on conn's database once.
func ensureRebuildUDF(db *sql.DB, conn *sql.Conn) error {
	registerMu.Lock()
	defer registerMu.Unlock()
	if rebuildRegistered[db] {
		return nil
	}
	if err := duckdb.RegisterScalarUDF(conn, rebuildFunc, &rebuildUDF{}); err != nil {
		return fmt.Errorf("register %s: %w", rebuildFunc, err)
	}
	rebuildRegistered[db] = true
	return nil
}
