package findings

import (
	"context"
	"fmt"
	"strings"
)

// saveAll writes the findings changed in a Record: the new ones are
// inserted and the existing ones updated in place, in a few statements.
//
// An existing finding is never deleted and inserted again: DuckDB keeps
// a primary key deleted and inserted in one transaction as a two-row leaf
// of its unique index until the commit's cleanup, and a later commit that
// inserts the same key while that leaf is still there invalidates the
// whole database ("Corrupted unique ART index ... gated leaf"), after
// which every read and write of the store fails until a restart. An
// UPDATE that leaves id alone does not touch the index at all.
func (s *Store) saveAll(ctx context.Context, tx execer, fs []*Finding, created map[*Finding]bool) error {
	var fresh, old []*Finding
	for _, f := range fs {
		if created[f] {
			fresh = append(fresh, f)
		} else {
			old = append(old, f)
		}
	}
	if err := insertRows(ctx, tx, "fd_findings", 26, len(fresh), func(i int) []any { return append([]any{fresh[i].ID}, fresh[i].values()...) }); err != nil {
		return fmt.Errorf("record findings: %w", err)
	}
	per := max(1, maxParams/len(findingColumns))
	for start := 0; start < len(old); start += per {
		chunk := old[start:min(len(old), start+per)]
		args := make([]any, 0, len(chunk)*len(findingColumns))
		for _, f := range chunk {
			args = append(append(args, f.ID), f.values()...)
		}
		if _, err := tx.ExecContext(ctx, updateFindingsSQL(len(chunk)), args...); err != nil {
			return fmt.Errorf("record findings: update findings: %w", err)
		}
	}
	return nil
}

// findingColumns are fd_findings' columns in table order, each with its
// type: an UPDATE from a VALUES list of parameters casts each to it.
var findingColumns = [][2]string{{"id", "VARCHAR"}, {"detector", "VARCHAR"}, {"rule_id", "VARCHAR"},
	{"account", "VARCHAR"}, {"region", "VARCHAR"}, {"group_key", "VARCHAR"}, {"title", "VARCHAR"}, {"author", "VARCHAR"},
	{"severity", "VARCHAR"}, {"description", "VARCHAR"}, {"refs", "VARCHAR"}, {"state", "VARCHAR"},
	{"state_reason", "VARCHAR"}, {"state_by", "VARCHAR"}, {"state_at", "BIGINT"}, {"first_seen", "BIGINT"},
	{"last_seen", "BIGINT"}, {"count", "BIGINT"}, {"event_ids", "VARCHAR"}, {"event_total", "BIGINT"},
	{"principals", "VARCHAR"}, {"source_ips", "VARCHAR"}, {"accounts", "VARCHAR"}, {"regions", "VARCHAR"},
	{"created", "BIGINT"}, {"updated", "BIGINT"}}

// updateFindingsSQL is an UPDATE of every column but id of n findings,
// whose rows (id first, then values()) are its parameters.
func updateFindingsSQL(n int) string {
	var set, names, row []string
	for i, c := range findingColumns {
		names = append(names, c[0])
		row = append(row, "?::"+c[1])
		if i > 0 {
			set = append(set, c[0]+" = v."+c[0])
		}
	}
	one := "(" + strings.Join(row, ", ") + ")"
	return "UPDATE fd_findings SET " + strings.Join(set, ", ") + " FROM (VALUES " +
		strings.TrimSuffix(strings.Repeat(one+", ", n), ", ") + ") AS v(" + strings.Join(names, ", ") + ") WHERE fd_findings.id = v.id"
}
