package logwatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Group is a log group as DescribeLogGroups shows it.
type Group struct {
	Account, Region, Name string
	Created               time.Time
	RetentionDays         int // 0 = never expire
	KmsKeyID              string
	Class                 string
	MetricFilterCount     int
	StoredBytes           int64 // bytes of the messages kept (expired ones until the next sweep)
	Tags                  map[string]string
}

// ARN is the group's arn member: the log-group ARN with ":*".
func (g Group) ARN() string { return GroupARN(g.Account, g.Region, g.Name) + ":*" }

// GroupARN is a log group's ARN as logGroupArn shows it (no ":*").
func GroupARN(account, region, name string) string {
	return "arn:aws:logs:" + region + ":" + account + ":log-group:" + name
}

// ParseGroupARN reads a log group ARN with or without the trailing ":*"
// CloudTrail's CloudWatchLogsLogGroupArn carries.
func ParseGroupARN(arn string) (account, region, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "logs" || parts[5] != "log-group" ||
		!regionRE.MatchString(parts[3]) || !accountRE.MatchString(parts[4]) {
		return "", "", "", false
	}
	name = strings.TrimSuffix(parts[6], ":*")
	if ValidGroupName(name) != nil {
		return "", "", "", false
	}
	return parts[4], parts[3], name, true
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

var groupNameRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)

// ValidGroupName checks a log group name against AWS's rules.
func ValidGroupName(name string) *Error {
	return validName("logGroupName", name, groupNameRE, `[\.\-_/#A-Za-z0-9]+`)
}

var streamNameRE = regexp.MustCompile(`^[^:*]*$`)

func validName(member, v string, re *regexp.Regexp, reText string) *Error {
	if v == "" {
		return validation(member, v, "Member must have length greater than or equal to 1")
	}
	if len(v) > 512 {
		return validation(member, v, "Member must have length less than or equal to 512")
	}
	if !re.MatchString(v) {
		return validation(member, v, "Member must satisfy regular expression pattern: "+reText)
	}
	return nil
}

// validation is the model-validation error AWS Logs sends as
// InvalidParameterException.
func validation(member, value, constraint string) *Error {
	return errf(CodeInvalid, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

// RetentionDays are the values PutRetentionPolicy accepts.
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// groupID returns the id of the named group.
func (w *Watch) groupID(ctx context.Context, account, region, name string) (int64, error) {
	var id int64
	err := w.db.QueryRowContext(ctx, `SELECT id FROM lw_groups WHERE account = ? AND region = ? AND name = ?`, account, region, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errGroupMissing
	}
	if err != nil {
		return 0, fmt.Errorf("read log group: %w", err)
	}
	return id, nil
}

// LogGroupExists reports whether the account has the named log group in
// region. CloudTrail's trail checks call it.
func (w *Watch) LogGroupExists(ctx context.Context, account, region, name string) (bool, error) {
	_, err := w.groupID(ctx, account, region, name)
	if errors.Is(err, errGroupMissing) {
		return false, nil
	}
	return err == nil, err
}

// CreateLogGroup creates a log group.
func (w *Watch) CreateLogGroup(ctx context.Context, account, region, name, kmsKeyID, class string, tags map[string]string) error {
	if e := ValidGroupName(name); e != nil {
		return e
	}
	if class == "" {
		class = "STANDARD"
	}
	tb, _ := json.Marshal(tags)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.groupID(ctx, account, region, name); err == nil {
		return errGroupExists
	} else if !errors.Is(err, errGroupMissing) {
		return err
	}
	_, err := w.db.ExecContext(ctx, `INSERT INTO lw_groups VALUES (nextval('lw_ids'), ?, ?, ?, ?, NULL, ?, ?, ?)`,
		account, region, name, ms(w.clk.Now()), kmsKeyID, class, string(tb))
	if err != nil {
		return fmt.Errorf("create log group: %w", err)
	}
	w.gen++
	return nil
}

// DeleteLogGroup deletes a log group with its streams, events and filters.
func (w *Watch) DeleteLogGroup(ctx context.Context, account, region, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, err := w.groupID(ctx, account, region, name)
	if err != nil {
		return err
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete log group: %w", err)
	}
	defer tx.Rollback()
	for _, t := range []string{"lw_events", "lw_streams", "lw_metric_filters", "lw_sub_filters"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE gid = ?`, id); err != nil {
			return fmt.Errorf("delete log group: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM lw_groups WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete log group: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete log group: %w", err)
	}
	w.gen++
	return nil
}

// GroupQuery selects log groups: Prefix is a name prefix, Pattern a
// case-insensitive substring of the name (at most one of them).
type GroupQuery struct {
	Prefix, Pattern string
}

// LogGroups lists the account's log groups in region, ordered by name.
func (w *Watch) LogGroups(ctx context.Context, account, region string, q GroupQuery) ([]Group, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT g.id, g.name, g.created, g.retention, g.kms, g.class, g.tags,
			(SELECT count(*) FROM lw_metric_filters f WHERE f.gid = g.id),
			(SELECT coalesce(sum(bytes), 0) FROM lw_streams s WHERE s.gid = g.id)
		FROM lw_groups g WHERE account = ? AND region = ? AND starts_with(name, ?)
			AND (? = '' OR contains(lower(name), lower(?))) ORDER BY name`,
		account, region, q.Prefix, q.Pattern, q.Pattern)
	if err != nil {
		return nil, fmt.Errorf("list log groups: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var (
			g       Group
			id      int64
			created int64
			ret     sql.NullInt64
			tags    string
		)
		if err := rows.Scan(&id, &g.Name, &created, &ret, &g.KmsKeyID, &g.Class, &tags, &g.MetricFilterCount, &g.StoredBytes); err != nil {
			return nil, fmt.Errorf("list log groups: %w", err)
		}
		g.Account, g.Region, g.Created, g.RetentionDays = account, region, time.UnixMilli(created).UTC(), int(ret.Int64)
		_ = json.Unmarshal([]byte(tags), &g.Tags)
		out = append(out, g)
	}
	return out, rows.Err()
}

// PutRetentionPolicy sets how many days the group keeps events.
func (w *Watch) PutRetentionPolicy(ctx context.Context, account, region, name string, days int) error {
	if !slices.Contains(RetentionDays, days) {
		vals := make([]string, len(RetentionDays))
		for i, d := range RetentionDays {
			vals[i] = strconv.Itoa(d)
		}
		return validation("retentionInDays", strconv.Itoa(days), "Member must satisfy enum value set: ["+strings.Join(vals, ", ")+"]")
	}
	return w.setRetention(ctx, account, region, name, days)
}

// DeleteRetentionPolicy makes the group keep events forever.
func (w *Watch) DeleteRetentionPolicy(ctx context.Context, account, region, name string) error {
	return w.setRetention(ctx, account, region, name, 0)
}

func (w *Watch) setRetention(ctx context.Context, account, region, name string, days int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, err := w.groupID(ctx, account, region, name)
	if err != nil {
		return err
	}
	var v any
	if days > 0 {
		v = days
	}
	if _, err := w.db.ExecContext(ctx, `UPDATE lw_groups SET retention = ? WHERE id = ?`, v, id); err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	w.gen++
	return nil
}

// Sweep deletes the rows of events older than their group's retention and
// returns how many it deleted. Queries already leave them out.
func (w *Watch) Sweep(ctx context.Context) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res, err := w.db.ExecContext(ctx, `DELETE FROM lw_events e USING lw_groups g
		WHERE e.gid = g.id AND g.retention IS NOT NULL AND e.ts < ? - g.retention * 86400000`, ms(w.clk.Now()))
	if err != nil {
		return 0, fmt.Errorf("apply log group retention: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		// storedBytes follows: the streams of groups with retention are
		// recounted.
		if _, err := w.db.ExecContext(ctx, `UPDATE lw_streams SET bytes = (SELECT coalesce(sum(e.size), 0) FROM lw_events e
			WHERE e.gid = lw_streams.gid AND e.stream = lw_streams.name)
			WHERE gid IN (SELECT id FROM lw_groups WHERE retention IS NOT NULL)`); err != nil {
			return n, fmt.Errorf("recount stored bytes: %w", err)
		}
	}
	return n, nil
}

// TagLogGroup adds or replaces tags.
func (w *Watch) TagLogGroup(ctx context.Context, account, region, name string, tags map[string]string) error {
	return w.editTags(ctx, account, region, name, func(m map[string]string) {
		for k, v := range tags {
			m[k] = v
		}
	})
}

// UntagLogGroup removes tags.
func (w *Watch) UntagLogGroup(ctx context.Context, account, region, name string, keys []string) error {
	return w.editTags(ctx, account, region, name, func(m map[string]string) {
		for _, k := range keys {
			delete(m, k)
		}
	})
}

func (w *Watch) editTags(ctx context.Context, account, region, name string, edit func(map[string]string)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, err := w.groupID(ctx, account, region, name)
	if err != nil {
		return err
	}
	var raw string
	if err := w.db.QueryRowContext(ctx, `SELECT tags FROM lw_groups WHERE id = ?`, id).Scan(&raw); err != nil {
		return fmt.Errorf("read tags: %w", err)
	}
	m := map[string]string{}
	_ = json.Unmarshal([]byte(raw), &m)
	if m == nil {
		m = map[string]string{}
	}
	edit(m)
	if len(m) > 50 {
		return errf(CodeInvalid, "A log group can have at most 50 tags.")
	}
	b, _ := json.Marshal(m)
	if _, err := w.db.ExecContext(ctx, `UPDATE lw_groups SET tags = ? WHERE id = ?`, string(b), id); err != nil {
		return fmt.Errorf("save tags: %w", err)
	}
	return nil
}

// Tags returns a group's tags.
func (w *Watch) Tags(ctx context.Context, account, region, name string) (map[string]string, error) {
	id, err := w.groupID(ctx, account, region, name)
	if err != nil {
		return nil, err
	}
	var raw string
	if err := w.db.QueryRowContext(ctx, `SELECT tags FROM lw_groups WHERE id = ?`, id).Scan(&raw); err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	m := map[string]string{}
	_ = json.Unmarshal([]byte(raw), &m)
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

// Stream is a log stream as DescribeLogStreams shows it.
type Stream struct {
	Name                          string
	Created                       time.Time
	FirstEvent, LastEvent, LastIn *time.Time
	StoredBytes                   int64
}

// CreateLogStream creates a stream in a group.
func (w *Watch) CreateLogStream(ctx context.Context, account, region, group, name string) error {
	if e := validName("logStreamName", name, streamNameRE, `[^:*]*`); e != nil {
		return e
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	id, err := w.groupID(ctx, account, region, group)
	if err != nil {
		return err
	}
	var n int
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM lw_streams WHERE gid = ? AND name = ?`, id, name).Scan(&n); err != nil {
		return fmt.Errorf("create log stream: %w", err)
	}
	if n > 0 {
		return errStreamExists
	}
	if _, err := w.db.ExecContext(ctx, `INSERT INTO lw_streams VALUES (?, ?, ?, NULL, NULL, NULL, 0)`, id, name, ms(w.clk.Now())); err != nil {
		return fmt.Errorf("create log stream: %w", err)
	}
	return nil
}

// StreamQuery selects and orders log streams.
type StreamQuery struct {
	Prefix          string
	ByLastEventTime bool
	Descending      bool
}

// LogStreams lists a group's streams.
func (w *Watch) LogStreams(ctx context.Context, account, region, group string, q StreamQuery) ([]Stream, error) {
	id, err := w.groupID(ctx, account, region, group)
	if err != nil {
		return nil, err
	}
	order := "name"
	if q.ByLastEventTime {
		order = "coalesce(last_ts, -1), name"
	}
	if q.Descending {
		order = strings.ReplaceAll(order, ",", " DESC,") + " DESC"
	}
	rows, err := w.db.QueryContext(ctx, `SELECT name, created, first_ts, last_ts, last_ingest, bytes FROM lw_streams
		WHERE gid = ? AND starts_with(name, ?) ORDER BY `+order, id, q.Prefix)
	if err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	defer rows.Close()
	var out []Stream
	for rows.Next() {
		var (
			s             Stream
			created       int64
			first, last   sql.NullInt64
			lastIn, bytes sql.NullInt64
		)
		if err := rows.Scan(&s.Name, &created, &first, &last, &lastIn, &bytes); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		s.Created, s.StoredBytes = time.UnixMilli(created).UTC(), bytes.Int64
		s.FirstEvent, s.LastEvent, s.LastIn = msTime(first), msTime(last), msTime(lastIn)
		out = append(out, s)
	}
	return out, rows.Err()
}

func msTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}
