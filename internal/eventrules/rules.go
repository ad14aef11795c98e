package eventrules

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// RuleARN is the ARN of a rule on the default bus.
func RuleARN(account, region, name string) string {
	return "arn:aws:events:" + region + ":" + account + ":rule/" + name
}

// ParseRuleARN splits the ARN of a rule on the default bus.
func ParseRuleARN(arn string) (account, region, name string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] != "events" || !strings.HasPrefix(p[5], "rule/") {
		return "", "", "", false
	}
	name = strings.TrimPrefix(p[5], "rule/")
	if name == "" || strings.Contains(name, "/") {
		return "", "", "", false
	}
	return p[4], p[3], name, true
}

// changed invalidates the rule snapshot; callers hold mu.
func (r *Rules) changed() {
	r.gen++
	r.Wake()
}

// PutRule creates a rule or replaces an existing one's settings (its
// pattern, state, description, schedule and role; its tags and targets are
// kept, as EventBridge keeps them). An empty State means ENABLED. The
// pattern must have been validated by the caller. It returns the rule's
// ARN.
func (r *Rules) PutRule(ctx context.Context, in Rule) (string, error) {
	if in.State == "" {
		in.State = StateEnabled
	}
	arn := RuleARN(in.Account, in.Region, in.Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.db.ExecContext(ctx, `UPDATE er_rules SET pattern = ?, state = ?, description = ?, schedule = ?, role = ?
		WHERE account = ? AND region = ? AND name = ?`,
		in.EventPattern, in.State, in.Description, in.ScheduleExpression, in.RoleARN, in.Account, in.Region, in.Name)
	if err != nil {
		return "", fmt.Errorf("update event rule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		tags, err := json.Marshal(nonNil(in.Tags))
		if err != nil {
			return "", err
		}
		if _, err := r.db.ExecContext(ctx, `INSERT INTO er_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.Account, in.Region, in.Name, arn, in.EventPattern, in.State, in.Description, in.ScheduleExpression,
			in.RoleARN, in.CreatedBy, string(tags), r.st.CommittedSeq(), r.clk.Now().UnixMilli()); err != nil {
			return "", fmt.Errorf("create event rule: %w", err)
		}
	}
	r.changed()
	return arn, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

const ruleCols = `account, region, name, arn, pattern, state, description, schedule, role, created_by, tags, from_seq`

func scanRules(rows *sql.Rows) ([]Rule, error) {
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var x Rule
		var tags string
		if err := rows.Scan(&x.Account, &x.Region, &x.Name, &x.ARN, &x.EventPattern, &x.State, &x.Description,
			&x.ScheduleExpression, &x.RoleARN, &x.CreatedBy, &tags, &x.FromSeq); err != nil {
			return nil, fmt.Errorf("read event rules: %w", err)
		}
		if err := json.Unmarshal([]byte(tags), &x.Tags); err != nil {
			return nil, fmt.Errorf("read event rule %s tags: %w", x.Name, err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event rules: %w", err)
	}
	return out, nil
}

// Rule returns one rule.
func (r *Rules) Rule(ctx context.Context, account, region, name string) (*Rule, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+ruleCols+` FROM er_rules WHERE account = ? AND region = ? AND name = ?`,
		account, region, name)
	if err != nil {
		return nil, fmt.Errorf("read event rule: %w", err)
	}
	rs, err := scanRules(rows)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ruleMissing(name)
	}
	return &rs[0], nil
}

// List returns the rules of an account and region whose names start with
// prefix, sorted by name.
func (r *Rules) List(ctx context.Context, account, region, prefix string) ([]Rule, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+ruleCols+` FROM er_rules WHERE account = ? AND region = ? AND starts_with(name, ?)
		ORDER BY name`, account, region, prefix)
	if err != nil {
		return nil, fmt.Errorf("list event rules: %w", err)
	}
	return scanRules(rows)
}

// DeleteRule deletes a rule. A rule that does not exist is no error (as
// EventBridge answers); one with targets is refused unless force.
func (r *Rules) DeleteRule(ctx context.Context, account, region, name string, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM er_targets WHERE account = ? AND region = ? AND rule = ?`,
		account, region, name).Scan(&n); err != nil {
		return fmt.Errorf("read event rule targets: %w", err)
	}
	if n > 0 && !force {
		return &Error{CodeValidation, "Rule can't be deleted since it has targets."}
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete event rule: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM er_targets WHERE account = ? AND region = ? AND rule = ?`,
		`DELETE FROM er_rules WHERE account = ? AND region = ? AND name = ?`} {
		if _, err := tx.ExecContext(ctx, q, account, region, name); err != nil {
			return fmt.Errorf("delete event rule: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete event rule: %w", err)
	}
	r.changed()
	return nil
}

// SetState enables or disables a rule.
func (r *Rules) SetState(ctx context.Context, account, region, name, state string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.db.ExecContext(ctx, `UPDATE er_rules SET state = ? WHERE account = ? AND region = ? AND name = ?`,
		state, account, region, name)
	if err != nil {
		return fmt.Errorf("update event rule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ruleMissing(name)
	}
	r.changed()
	return nil
}

func (r *Rules) exists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, account, region, name string) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM er_rules WHERE account = ? AND region = ? AND name = ?`,
		account, region, name).Scan(&n); err != nil {
		return fmt.Errorf("read event rule: %w", err)
	}
	if n == 0 {
		return ruleMissing(name)
	}
	return nil
}

// PutTargets adds targets to a rule or replaces those with the same ids.
// A rule may have at most MaxTargets.
func (r *Rules) PutTargets(ctx context.Context, account, region, rule string, ts []Target) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.exists(ctx, r.db, account, region, rule); err != nil {
		return err
	}
	have, err := r.Targets(ctx, account, region, rule)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, t := range have {
		ids[t.ID] = true
	}
	for _, t := range ts {
		ids[t.ID] = true
	}
	if len(ids) > MaxTargets {
		return &Error{CodeLimit, "The requested resource exceeds the maximum number allowed."}
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put event rule targets: %w", err)
	}
	defer tx.Rollback()
	var pos int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(pos), 0) FROM er_targets WHERE account = ? AND region = ? AND rule = ?`,
		account, region, rule).Scan(&pos); err != nil {
		return fmt.Errorf("put event rule targets: %w", err)
	}
	for _, t := range ts {
		var old sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT pos FROM er_targets WHERE account = ? AND region = ? AND rule = ? AND id = ?`,
			account, region, rule, t.ID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("put event rule targets: %w", err)
		}
		p := old.Int64
		if !old.Valid {
			pos++
			p = pos
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM er_targets WHERE account = ? AND region = ? AND rule = ? AND id = ?`,
			account, region, rule, t.ID); err != nil {
			return fmt.Errorf("put event rule targets: %w", err)
		}
		var tr string
		if t.Transformer != nil {
			b, err := json.Marshal(t.Transformer)
			if err != nil {
				return err
			}
			tr = string(b)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO er_targets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			account, region, rule, t.ID, t.ARN, t.Input, t.InputPath, tr, t.Spec, p); err != nil {
			return fmt.Errorf("put event rule targets: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put event rule targets: %w", err)
	}
	r.changed()
	return nil
}

// RemoveTargets removes targets from a rule by id and returns the ids the
// rule did not have.
func (r *Rules) RemoveTargets(ctx context.Context, account, region, rule string, ids []string) (missing []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.exists(ctx, r.db, account, region, rule); err != nil {
		return nil, err
	}
	for _, id := range ids {
		res, err := r.db.ExecContext(ctx, `DELETE FROM er_targets WHERE account = ? AND region = ? AND rule = ? AND id = ?`,
			account, region, rule, id)
		if err != nil {
			return nil, fmt.Errorf("remove event rule targets: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			missing = append(missing, id)
		}
	}
	r.changed()
	return missing, nil
}

// Targets returns a rule's targets in the order they were first put.
func (r *Rules) Targets(ctx context.Context, account, region, rule string) ([]Target, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, arn, input, input_path, transformer, spec FROM er_targets
		WHERE account = ? AND region = ? AND rule = ? ORDER BY pos`, account, region, rule)
	if err != nil {
		return nil, fmt.Errorf("read event rule targets: %w", err)
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		var t Target
		var tr string
		if err := rows.Scan(&t.ID, &t.ARN, &t.Input, &t.InputPath, &tr, &t.Spec); err != nil {
			return nil, fmt.Errorf("read event rule targets: %w", err)
		}
		if tr != "" {
			t.Transformer = new(Transformer)
			if err := json.Unmarshal([]byte(tr), t.Transformer); err != nil {
				return nil, fmt.Errorf("read event rule target %s: %w", t.ID, err)
			}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TargetsOf is Targets for a rule that must exist.
func (r *Rules) TargetsOf(ctx context.Context, account, region, rule string) ([]Target, error) {
	if err := r.exists(ctx, r.db, account, region, rule); err != nil {
		return nil, err
	}
	return r.Targets(ctx, account, region, rule)
}

// RuleNamesByTarget returns the names of the rules of an account and
// region that have a target with the ARN, sorted.
func (r *Rules) RuleNamesByTarget(ctx context.Context, account, region, arn string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT DISTINCT rule FROM er_targets WHERE account = ? AND region = ? AND arn = ?
		ORDER BY rule`, account, region, arn)
	if err != nil {
		return nil, fmt.Errorf("read event rule targets: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Tag adds tags to a rule and removes the keys in untag.
func (r *Rules) Tag(ctx context.Context, account, region, name string, add map[string]string, untag []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, err := r.Rule(ctx, account, region, name)
	if err != nil {
		return err
	}
	tags := nonNil(x.Tags)
	for k, v := range add {
		tags[k] = v
	}
	for _, k := range untag {
		delete(tags, k)
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	if _, err := r.db.ExecContext(ctx, `UPDATE er_rules SET tags = ? WHERE account = ? AND region = ? AND name = ?`,
		string(b), account, region, name); err != nil {
		return fmt.Errorf("tag event rule: %w", err)
	}
	r.changed()
	return nil
}

// SortedTags returns tags' keys in order.
func SortedTags(tags map[string]string) []string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
