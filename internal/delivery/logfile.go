// Writing a delivery window's log files: the gzip Records document, its
// write-once put, and the check that a file already there holds the same records.

package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// write stores one group's buffered records as the next file of the open
// window. Key and bytes depend only on the trail, the events and the
// window, so writing them again after a crash is a no-op.
func (w *worker) write(ctx context.Context, t store.Trail, set trail.Settings, key string, g *group, final bool) error {
	part := w.st.Parts[key]
	end := g.lastIngest.Truncate(time.Minute)
	if final {
		end = w.st.Window.Truncate(time.Minute)
	}
	lk := layout.Log{
		Prefix:  set.S3KeyPrefix,
		Account: g.account,
		Region:  g.region,
		End:     end,
		Unique: layout.UniqueSuffix(t.ARN, strconv.FormatInt(t.Created.UnixNano(), 10), g.account, g.region,
			strconv.FormatInt(w.st.Window.UnixNano(), 10), strconv.Itoa(part)),
	}
	if set.IsOrganizationTrail && w.d.opts.Org != nil {
		lk.OrgID = w.d.opts.Org.ID
	}
	body, plainHash, err := encodeLogFile(g.recs)
	if err != nil {
		return err
	}
	// An Insights file is a log file's twin under CloudTrail-Insight/
	// (layout.Insight), with the same file format.
	objKey := func() string { return lk.String() }
	if g.insight {
		objKey = func() string { return layout.Insight(lk).String() }
	}
	now := w.d.opts.Clock.Now().UTC()
	err = w.put(ctx, set.S3BucketName, objKey, &lk, body, g.recs)
	if err == nil {
		err = w.notify(ctx, t, set.S3BucketName, objKey())
	}
	w.mu.Lock()
	w.st.LatestAttempt = now
	w.st.LatestAttemptOK = err == nil
	if err != nil {
		w.st.LatestError, w.st.LatestErrorTime = deliveryErrorText(err), now
		w.mu.Unlock()
		w.d.errorsTotal.Add(1)
		return fmt.Errorf("deliver %s to bucket %s: %w", objKey(), set.S3BucketName, err)
	}
	w.st.LatestError, w.st.LatestErrorTime = "", time.Time{}
	w.st.LatestDelivery = now
	w.st.LatestLogFile = "s3://" + set.S3BucketName + "/" + objKey()
	w.st.Files++
	w.st.Events += int64(len(g.recs))
	if w.st.Parts == nil {
		w.st.Parts, w.st.Done = map[string]int{}, map[string]int64{}
	}
	w.st.Parts[key] = part + 1
	w.st.Done[key] = g.lastSeq
	// Digests list log files only: CloudTrail documents digests as
	// covering the log files delivered in the hour, and `aws cloudtrail
	// validate-logs` knows only CloudTrail/ log keys; Insights files are
	// not digested.
	if set.LogFileValidationEnabled && !g.insight {
		w.listInDigest(t, set, g, set.S3BucketName, lk.String(), plainHash)
	}
	w.mu.Unlock()
	w.d.filesTotal.Add(1)
	w.d.eventsTotal.Add(uint64(len(g.recs)))
	g.reset()
	w.dirty = true
	return nil
}

// notify publishes CloudTrail's notice of a delivered log file to the
// trail's SnsTopicName (a name or an ARN; read from the trail document,
// where the control plane keeps it), if any.
func (w *worker) notify(ctx context.Context, t store.Trail, bucket, key string) error {
	if w.d.opts.Notices == nil {
		return nil
	}
	var doc struct{ SnsTopicName string }
	if err := json.Unmarshal(t.Doc, &doc); err != nil || doc.SnsTopicName == "" {
		return nil
	}
	arn := doc.SnsTopicName
	if !strings.HasPrefix(arn, "arn:") {
		arn = "arn:aws:sns:" + t.HomeRegion + ":" + t.Account + ":" + arn
	}
	msg, _ := json.Marshal(struct {
		S3Bucket    string   `json:"s3Bucket"`
		S3ObjectKey []string `json:"s3ObjectKey"`
	}{bucket, []string{key}})
	_, err := w.d.opts.Notices.Publish(ctx, t.Account, arn, "", string(msg), "cloudtrail-log:"+bucket+"/"+key)
	var p interface{ Permanent() bool }
	if errors.As(err, &p) && p.Permanent() {
		// the topic is gone or refuses: the log file stays delivered, as
		// CloudTrail's do when their topic is deleted
		w.d.log.Warn("delivery: could not notify the trail's SNS topic; the log file is delivered", "trail", t.ARN, "topic", arn, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify SNS topic %s: %w", arn, err)
	}
	return nil
}

// put writes a log file once. If the key already holds other bytes (a
// file written by an earlier version with other compression), the file is
// left alone when it holds the same records, and this one is written
// under another suffix when it does not, so nothing is lost.
// key gives the file's object key from lk's parts (a log or an Insights
// key); put changes lk.Unique for the other name.
func (w *worker) put(ctx context.Context, bucket string, key func() string, lk *layout.Log, body []byte, recs [][]byte) error {
	b, err := w.d.opts.Buckets.Bucket(ctx, bucket)
	if err != nil {
		return err
	}
	err = b.PutIfAbsent(ctx, key(), body, nil)
	if !errors.Is(err, objstore.ErrExists) {
		return err
	}
	old, _, gerr := b.Get(ctx, key())
	if gerr != nil {
		return gerr
	}
	if same, _ := sameRecords(old, recs); same {
		return nil
	}
	w.d.log.Warn("delivery: a log file key holds other records; writing these under another name", "key", key())
	lk.Unique = layout.UniqueSuffix(lk.Unique, "again")
	return b.PutIfAbsent(ctx, key(), body, nil)
}

// encodeLogFile returns {"Records":[...]} gzipped, and the hex SHA-256
// of the uncompressed JSON (what digests list). The output depends only
// on recs.
func encodeLogFile(recs [][]byte) ([]byte, string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	mw := io.MultiWriter(zw, h)
	mw.Write([]byte(`{"Records":[`))
	for i, r := range recs {
		if i > 0 {
			mw.Write([]byte{','})
		}
		mw.Write(r)
	}
	mw.Write([]byte(`]}`))
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil)), nil
}

// sameRecords reports whether a gzip log file holds exactly recs.
func sameRecords(file []byte, recs [][]byte) (bool, error) {
	zr, err := gzip.NewReader(bytes.NewReader(file))
	if err != nil {
		return false, err
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		return false, err
	}
	var want bytes.Buffer
	want.WriteString(`{"Records":[`)
	want.Write(bytes.Join(recs, []byte{','}))
	want.WriteString(`]}`)
	return bytes.Equal(got, want.Bytes()), nil
}
