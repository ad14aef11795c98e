// Delivery: the workers that take due deliveries from the queue, attempt
// them, and record every attempt with the delivery's new state.

package topics

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

var errNoRows = sql.ErrNoRows

// Attempt statuses (the status of GET /v1/notifications).
const (
	StatusDelivered = "delivered"
	StatusRetrying  = "retrying"
	StatusFailed    = "failed" // not retried: the endpoint refused permanently
	StatusDead      = "dead"   // the last attempt the policy allows failed
)

// message is a stored message.
type message struct {
	id, topicARN, account, kind, subject, message string
	attrs                                         map[string]MessageAttribute
	created                                       time.Time
	structured                                    bool
}

// job is one due delivery.
type job struct {
	msg     message
	sub     Subscription
	topic   Topic
	attempt int // attempts made so far
}

func (j *job) key() string { return j.msg.id + "|" + j.sub.ARN }

// dispatchBatch bounds the due deliveries read per pass.
const dispatchBatch = 256

// deliveries is the delivery side of Topics: the loop that takes due
// deliveries from the queue (sns_deliveries), the workers that attempt
// them by the subscription's protocol, and the record of every attempt
// (sns_attempts) written with the delivery's new state. Topics keeps the
// topics, subscriptions and messages (CRUD, Publish) and the message
// format; deliveries reaches it only for the message format, the retry
// policies and the tables' write lock.
type deliveries struct {
	topics *Topics
	db     *sql.DB
	mu     *sync.Mutex // Topics.mu: serialises writes to the sns_* tables
	cfg    Config
	clk    clock.Clock
	log    *slog.Logger
	http   *http.Client

	wake     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	inflight map[string]bool // delivery keys being attempted
	busy     map[string]int  // endpoint → deliveries in flight
	flightMu sync.Mutex
	sem      chan struct{}
	wg       sync.WaitGroup

	// sendMail is the e-mail transport (smtp.go); tests replace it.
	sendMail func(ctx context.Context, to, subject, body string) error
}

// newDeliveries builds t's delivery side from t's configuration (with
// its defaults filled); start starts it.
func newDeliveries(t *Topics) *deliveries {
	d := &deliveries{topics: t, db: t.db, mu: &t.mu, cfg: t.cfg, clk: t.clk, log: t.log, http: t.cfg.HTTPClient,
		wake: make(chan struct{}, 1), inflight: map[string]bool{}, busy: map[string]int{}, sem: make(chan struct{}, t.cfg.Workers)}
	if d.http == nil {
		d.http = &http.Client{Timeout: t.cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	d.sendMail = d.smtpSend
	return d
}

// start starts the delivery loop, which resumes every delivery left
// pending.
func (d *deliveries) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go d.run(ctx)
}

// close stops the loop and waits for attempts in flight (bounded by the
// per-attempt timeout) or until ctx ends. Pending deliveries stay queued
// for the next start.
func (d *deliveries) close(ctx context.Context) error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	select {
	case <-d.done:
	case <-ctx.Done():
		return fmt.Errorf("close topics: %w", ctx.Err())
	}
	ch := make(chan struct{})
	go func() { d.wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close topics: %w", ctx.Err())
	}
}

// kick wakes the loop: a delivery was queued, or a worker came free.
func (d *deliveries) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deliveries) now() time.Time { return d.clk.Now().UTC() }

func (d *deliveries) run(ctx context.Context) {
	defer close(d.done)
	var pruned time.Time
	for {
		if now := d.now(); now.Sub(pruned) >= time.Hour {
			if err := d.prune(ctx, now.Add(-d.cfg.Keep)); err != nil && ctx.Err() == nil {
				d.log.Error("notifications: removing old delivery records failed; trying again in an hour", "err", err)
			}
			pruned = now
		}
		next, err := d.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("notifications: reading the delivery queue failed; retrying in 5 s", "err", err)
			next = d.now().Add(5 * time.Second)
		}
		var timerC <-chan time.Time
		var tm interface{ Stop() bool }
		if !next.IsZero() {
			tmr := d.clk.NewTimer(next.Sub(d.now()))
			tm, timerC = tmr, tmr.C
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timerC:
		}
		if tm != nil {
			tm.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// dispatch starts every due delivery a worker and its endpoint's share
// allow, and returns when the earliest one not yet due is due (zero if
// none). Deliveries held back by busy workers start when one finishes.
func (d *deliveries) dispatch(ctx context.Context) (time.Time, error) {
	now := d.now()
	// Due deliveries, at most PerEndpoint per endpoint (those beyond
	// could not start anyway), so one endpoint's backlog cannot fill the
	// batch and hold up every other endpoint's.
	rows, err := d.db.QueryContext(ctx, `SELECT d.attempt, d.next_at, m.id, m.topic_arn, m.account, m.kind, m.subject, m.message, m.attrs, m.created, m.structured,
			s.arn, s.protocol, s.endpoint, s.token, s.attrs, tp.attrs
		FROM sns_deliveries d JOIN sns_messages m ON m.id = d.message_id JOIN sns_subscriptions s ON s.arn = d.sub_arn
			JOIN sns_topics tp ON tp.arn = s.topic_arn
		WHERE d.state = 'pending' AND d.next_at <= ?
		QUALIFY row_number() OVER (PARTITION BY s.endpoint ORDER BY d.next_at, d.message_id) <= ?
		ORDER BY d.next_at LIMIT ?`, now, d.cfg.PerEndpoint, dispatchBatch)
	if err != nil {
		return time.Time{}, fmt.Errorf("read delivery queue: %w", err)
	}
	var jobs []*job
	for rows.Next() {
		j := &job{}
		var due time.Time
		var mattrs, sattrs, tattrs string
		if err := rows.Scan(&j.attempt, &due, &j.msg.id, &j.msg.topicARN, &j.msg.account, &j.msg.kind, &j.msg.subject, &j.msg.message,
			&mattrs, &j.msg.created, &j.msg.structured, &j.sub.ARN, &j.sub.Protocol, &j.sub.Endpoint, &j.sub.Token, &sattrs, &tattrs); err != nil {
			rows.Close()
			return time.Time{}, fmt.Errorf("read delivery queue: %w", err)
		}
		j.sub.TopicARN, j.sub.Account, j.topic.ARN = j.msg.topicARN, j.msg.account, j.msg.topicARN
		if json.Unmarshal([]byte(mattrs), &j.msg.attrs) != nil || json.Unmarshal([]byte(sattrs), &j.sub.Attrs) != nil ||
			json.Unmarshal([]byte(tattrs), &j.topic.Attrs) != nil {
			d.log.Error("notifications: a queued delivery has unreadable attributes; skipping it", "message", j.msg.id, "subscription", j.sub.ARN)
			continue
		}
		j.msg.message = forProtocol(j.msg.message, j.msg.structured, j.sub.Protocol)
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return time.Time{}, fmt.Errorf("read delivery queue: %w", err)
	}
	var next sql.NullTime
	if err := d.db.QueryRowContext(ctx, `SELECT min(next_at) FROM sns_deliveries WHERE state = 'pending' AND next_at > ?`, now).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("read delivery queue: %w", err)
	}
	for _, j := range jobs {
		if !d.claim(j) {
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer d.release(j)
			d.attempt(ctx, j)
		}()
	}
	return next.Time, nil
}

// prune removes the messages, finished deliveries and attempt records
// older than before; messages with deliveries still pending stay.
func (d *deliveries) prune(ctx context.Context, before time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM sns_attempts WHERE time < ?`,
		`DELETE FROM sns_deliveries WHERE state <> 'pending' AND message_id IN (SELECT id FROM sns_messages WHERE created < ?)`,
		`DELETE FROM sns_messages WHERE created < ? AND id NOT IN (SELECT message_id FROM sns_deliveries)`,
	} {
		if _, err := tx.ExecContext(ctx, q, before); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// claim reserves a worker and the endpoint's share for j, or reports
// false when j is in flight or none is free.
func (d *deliveries) claim(j *job) bool {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	if d.inflight[j.key()] || d.busy[j.sub.Endpoint] >= d.cfg.PerEndpoint {
		return false
	}
	select {
	case d.sem <- struct{}{}:
	default:
		return false
	}
	d.inflight[j.key()] = true
	d.busy[j.sub.Endpoint]++
	return true
}

func (d *deliveries) release(j *job) {
	d.flightMu.Lock()
	delete(d.inflight, j.key())
	if d.busy[j.sub.Endpoint]--; d.busy[j.sub.Endpoint] <= 0 {
		delete(d.busy, j.sub.Endpoint)
	}
	<-d.sem
	d.flightMu.Unlock()
	d.kick()
}

// outcome is one attempt's result.
type outcome struct {
	code      int
	err       string
	permanent bool
}

func (o outcome) ok() bool { return o.err == "" }

// attempt makes one delivery attempt and records it. The queue was read
// before j was claimed, so the row is read again: an attempt that
// finished in between has moved it on.
func (d *deliveries) attempt(ctx context.Context, j *job) {
	var n int
	var state string
	err := d.db.QueryRowContext(ctx, `SELECT attempt, state FROM sns_deliveries WHERE message_id = ? AND sub_arn = ?`, j.msg.id, j.sub.ARN).Scan(&n, &state)
	if err != nil || n != j.attempt || state != "pending" {
		return
	}
	actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	o := d.send(actx, j)
	cancel()
	if ctx.Err() != nil && !o.ok() {
		return // shutting down: the attempt did not complete; it is made again after the next start
	}
	n = j.attempt + 1
	pol, err := d.topics.policyFor(&j.topic, &j.sub)
	if err != nil {
		pol = d.topics.retry
	}
	now := d.now()
	status, state, nextAt := StatusDelivered, "delivered", now
	switch {
	case o.ok():
	case o.permanent:
		status, state = StatusFailed, "failed"
	case n >= pol.Attempts():
		status, state = StatusDead, "dead"
	default:
		status, state, nextAt = StatusRetrying, "pending", now.Add(pol.Delay(n))
	}
	if err := d.record(context.WithoutCancel(ctx), j, n, status, state, nextAt, o, now); err != nil {
		d.log.Error("notifications: recording a delivery attempt failed; the delivery will be attempted again", "message", j.msg.id,
			"subscription", j.sub.ARN, "err", err)
	}
	if status == StatusDead {
		d.log.Warn("notifications: delivery failed after the last retry; recorded as dead", "message", j.msg.id,
			"subscription", j.sub.ARN, "endpoint", j.sub.Endpoint, "attempts", n, "err", o.err)
	}
}

func (d *deliveries) record(ctx context.Context, j *job, n int, status, state string, nextAt time.Time, o outcome, now time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var code any
	if o.code != 0 {
		code = o.code
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sns_attempts (message_id, topic_arn, account, sub_arn, protocol, endpoint, subject,
		attempt, status, status_code, error, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.msg.id, j.msg.topicARN, j.msg.account, j.sub.ARN, j.sub.Protocol, j.sub.Endpoint, j.msg.subject, n, status, code, o.err, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sns_deliveries SET attempt = ?, state = ?, next_at = ? WHERE message_id = ? AND sub_arn = ?`,
		n, state, nextAt, j.msg.id, j.sub.ARN); err != nil {
		return err
	}
	return tx.Commit()
}

// send makes one attempt by the subscription's protocol.
func (d *deliveries) send(ctx context.Context, j *job) outcome {
	switch {
	case d.topics.isSlack(j.sub.Protocol, j.sub.Endpoint):
		text := j.msg.message
		if j.msg.subject != "" {
			text = "*" + j.msg.subject + "*\n" + text
		}
		body, _ := json.Marshal(map[string]string{"text": text})
		return d.post(ctx, j.sub.Endpoint, body, http.Header{"Content-Type": {"application/json"}})
	case j.sub.Protocol == ProtoHTTP || j.sub.Protocol == ProtoHTTPS:
		doc, err := d.topics.build(&j.msg, &j.sub, j.topic.Attrs["SignatureVersion"])
		if err != nil {
			return outcome{err: err.Error()}
		}
		body := doc
		if j.msg.kind == kindNotification && j.sub.Attrs["RawMessageDelivery"] == "true" {
			body = []byte(j.msg.message)
		}
		h := http.Header{
			"Content-Type":           {"text/plain; charset=UTF-8"},
			"User-Agent":             {"Amazon Simple Notification Service Agent"},
			"X-Amz-Sns-Message-Type": {j.msg.kind},
			"X-Amz-Sns-Message-Id":   {j.msg.id},
			"X-Amz-Sns-Topic-Arn":    {j.msg.topicARN},
		}
		if j.msg.kind == kindNotification {
			h.Set("X-Amz-Sns-Subscription-Arn", j.sub.ARN)
			if j.sub.Attrs["RawMessageDelivery"] == "true" {
				h.Set("X-Amz-Sns-Rawdelivery", "true")
			}
		}
		return d.post(ctx, j.sub.Endpoint, body, h)
	case j.sub.Protocol == ProtoEmail || j.sub.Protocol == ProtoEmailJSON:
		return d.sendEmail(ctx, j)
	}
	return outcome{err: "unsupported protocol " + j.sub.Protocol, permanent: true}
}

func (d *deliveries) post(ctx context.Context, endpoint string, body []byte, h http.Header) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err.Error(), permanent: true}
	}
	req.Header = h
	resp, err := d.http.Do(req)
	if err != nil {
		return outcome{err: err.Error()}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return outcome{code: resp.StatusCode, err: "HTTP " + resp.Status}
	}
	return outcome{code: resp.StatusCode}
}

// retryJSON is SNS's healthyRetryPolicy object.
type retryJSON struct {
	MinDelayTarget     *int   `json:"minDelayTarget,omitempty"`
	MaxDelayTarget     *int   `json:"maxDelayTarget,omitempty"`
	NumRetries         *int   `json:"numRetries,omitempty"`
	NumNoDelayRetries  *int   `json:"numNoDelayRetries,omitempty"`
	NumMinDelayRetries *int   `json:"numMinDelayRetries,omitempty"`
	NumMaxDelayRetries *int   `json:"numMaxDelayRetries,omitempty"`
	BackoffFunction    string `json:"backoffFunction,omitempty"`
}

// parseDeliveryPolicy applies a topic's ({"http":{"defaultHealthyRetryPolicy":…}})
// or a subscription's ({"healthyRetryPolicy":…}) DeliveryPolicy to def.
func parseDeliveryPolicy(doc string, def RetryPolicy) (RetryPolicy, error) {
	if doc == "" {
		return def, nil
	}
	var p struct {
		HTTP *struct {
			Default *retryJSON `json:"defaultHealthyRetryPolicy"`
		} `json:"http"`
		Healthy *retryJSON `json:"healthyRetryPolicy"`
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&p); err != nil {
		return def, fmt.Errorf("not a delivery policy: %v", err)
	}
	r := p.Healthy
	if p.HTTP != nil && p.HTTP.Default != nil {
		r = p.HTTP.Default
	}
	if r == nil {
		return def, nil
	}
	out := def
	if r.NumNoDelayRetries != nil {
		out.NoDelayRetries = *r.NumNoDelayRetries
	}
	if r.NumRetries != nil {
		if *r.NumRetries < 0 || *r.NumRetries > 100 {
			return def, errors.New("numRetries must be between 0 and 100")
		}
		out.BackoffRetries = max(*r.NumRetries-out.NoDelayRetries, 0)
		out.NoDelayRetries = min(out.NoDelayRetries, *r.NumRetries)
	}
	if r.MinDelayTarget != nil {
		out.MinDelay = time.Duration(max(*r.MinDelayTarget, 1)) * time.Second
	}
	if r.MaxDelayTarget != nil {
		out.MaxDelay = time.Duration(max(*r.MaxDelayTarget, 1)) * time.Second
	}
	if out.MaxDelay < out.MinDelay {
		return def, errors.New("maxDelayTarget must not be less than minDelayTarget")
	}
	return out, nil
}

// policyFor is the retry policy of a subscription: the server's, then
// the topic's DeliveryPolicy, then the subscription's.
func (t *Topics) policyFor(tp *Topic, s *Subscription) (RetryPolicy, error) {
	p, err := parseDeliveryPolicy(tp.Attrs["DeliveryPolicy"], t.retry)
	if err != nil {
		return t.retry, err
	}
	return parseDeliveryPolicy(s.Attrs["DeliveryPolicy"], p)
}

// effectiveDeliveryPolicy shows p as SNS's EffectiveDeliveryPolicy.
func effectiveDeliveryPolicy(p RetryPolicy) string {
	return fmt.Sprintf(`{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":%d,"maxDelayTarget":%d,"numRetries":%d,"numMaxDelayRetries":0,"numNoDelayRetries":%d,"numMinDelayRetries":0,"backoffFunction":"exponential"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}`,
		int(p.MinDelay/time.Second), int(p.MaxDelay/time.Second), p.NoDelayRetries+p.BackoffRetries, p.NoDelayRetries)
}

// Attempt is one recorded delivery attempt (GET /v1/notifications).
type Attempt struct {
	MessageID       string    `json:"messageId"`
	TopicARN        string    `json:"topicArn"`
	SubscriptionARN string    `json:"subscriptionArn"`
	Protocol        string    `json:"protocol"`
	Endpoint        string    `json:"endpoint"`
	Subject         string    `json:"subject"`
	Attempt         int       `json:"attempt"`
	Status          string    `json:"status"`
	StatusCode      int       `json:"statusCode"`
	Error           string    `json:"error"`
	Time            time.Time `json:"time"`
}

// maxAttemptsListed bounds one Attempts answer (the newest are kept).
const maxAttemptsListed = 1000

// Attempts returns account's delivery attempts at or after since (of one
// topic when topicARN is set), oldest first, at most the newest 1,000.
func (t *Topics) Attempts(ctx context.Context, account, topicARN string, since time.Time) ([]Attempt, error) {
	cols := `message_id, topic_arn, sub_arn, protocol, endpoint, subject, attempt, status, coalesce(status_code, 0) AS status_code, error, time`
	q := `SELECT seq, ` + cols + ` FROM sns_attempts WHERE account = ? AND time >= ?`
	args := []any{account, since.UTC()}
	if topicARN != "" {
		q += ` AND topic_arn = ?`
		args = append(args, topicARN)
	}
	q = `SELECT ` + strings.ReplaceAll(cols, "coalesce(status_code, 0)", "status_code") + ` FROM (` + q +
		fmt.Sprintf(` ORDER BY seq DESC LIMIT %d) ORDER BY seq`, maxAttemptsListed)
	rows, err := t.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", err)
	}
	defer rows.Close()
	out := []Attempt{}
	for rows.Next() {
		var a Attempt
		if err := rows.Scan(&a.MessageID, &a.TopicARN, &a.SubscriptionARN, &a.Protocol, &a.Endpoint, &a.Subject, &a.Attempt,
			&a.Status, &a.StatusCode, &a.Error, &a.Time); err != nil {
			return nil, fmt.Errorf("list delivery attempts: %w", err)
		}
		a.Time = a.Time.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
