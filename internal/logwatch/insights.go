package logwatch

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// EventSeqsSQL returns an SQL subquery (one BIGINT column, over the
// store's database) of the store sequence numbers of the trail events the
// named log groups of account in region hold with a timestamp in [from,
// to], for Logs Insights queries (query.Options.SeqIn). Messages put with
// PutLogEvents are not store events and are not included. A group that
// does not exist is ResourceNotFoundException.
func (w *Watch) EventSeqsSQL(ctx context.Context, account, region string, names []string, from, to time.Time) (string, error) {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id, err := w.groupID(ctx, account, region, n)
		if err != nil {
			return "", err
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return "SELECT seq FROM main.lw_events WHERE gid IN (" + strings.Join(ids, ", ") + ") AND seq IS NOT NULL AND ts >= " +
		strconv.FormatInt(from.UnixMilli(), 10) + " AND ts <= " + strconv.FormatInt(to.UnixMilli(), 10), nil
}
