package delivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/trail"
)

// readDigests returns the bucket's digests, oldest first, with their
// uncompressed bytes and metadata.
func (f *fixture) readDigests(bucket string) ([]*digest.Digest, [][]byte, []map[string]string) {
	f.t.Helper()
	b, _ := f.bk.Bucket(context.Background(), bucket)
	infos, _, err := b.List(context.Background(), "", "", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	var ds []*digest.Digest
	var plains [][]byte
	var metas []map[string]string
	for _, in := range infos {
		if !strings.Contains(in.Key, "/CloudTrail-Digest/") {
			continue
		}
		data, info, err := b.Get(context.Background(), in.Key)
		if err != nil {
			f.t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			f.t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		var d digest.Digest
		if err := json.Unmarshal(plain, &d); err != nil {
			f.t.Fatalf("%s: %v", in.Key, err)
		}
		if d.DigestS3Object != in.Key || d.DigestS3Bucket != bucket {
			f.t.Errorf("digest at %s names %s/%s", in.Key, d.DigestS3Bucket, d.DigestS3Object)
		}
		ds, plains, metas = append(ds, &d), append(plains, plain), append(metas, info.Meta)
	}
	return ds, plains, metas
}

func TestDigestsChainSignAndListEveryFile(t *testing.T) {
	f := newFixture(t, delivery.Options{DigestInterval: 2 * time.Minute}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b", S3KeyPrefix: "p", LogFileValidationEnabled: true})
	f.clk.Set(t0.Add(10 * time.Second))
	f.ingest("111111111111/eu-west-1/Management", "111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(70 * time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	// 10:02–10:04 has no events; 10:04–10:06 has one.
	f.clk.Set(t0.Add(4*time.Minute + 5*time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(6*time.Minute + 30*time.Second))
	if st, _ := f.d.Status(context.Background(), arn); st.Digests < 3 {
		t.Fatalf("digests not delivered: %+v", st)
	} else if st.LatestDigestDelivery.IsZero() || st.LatestDigestError != "" {
		t.Errorf("status %+v", st)
	}

	ds, plains, metas := f.readDigests("b")
	if len(ds) != 3 {
		t.Fatalf("%d digests, want 3 (10:02, 10:04 empty, 10:06)", len(ds))
	}
	keys, err := f.keys.PublicKeys(context.Background(), "eu-west-1", t0, t0.Add(time.Hour))
	if err != nil || len(keys) != 1 {
		t.Fatalf("public keys %v %v", keys, err)
	}
	pub, err := digest.ParsePublicKey(keys[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	// Every delivered log file is listed once, with the hash of its JSON.
	logs := map[string]string{}
	for _, lf := range f.files("b") {
		logs[lf.key.String()] = ""
	}
	listed := 0
	for i, d := range ds {
		if d.DigestPublicKeyFingerprint != keys[0].Fingerprint || metas[i][digest.MetaSignatureAlgorithm] != "SHA256withRSA" {
			t.Errorf("digest %d: fingerprint %s, meta %v", i, d.DigestPublicKeyFingerprint, metas[i])
		}
		if err := digest.Verify(pub, digest.SigningString(d, digest.Hash(plains[i])), metas[i][digest.MetaSignature]); err != nil {
			t.Errorf("digest %d: %v", i, err)
		}
		if !strings.HasPrefix(d.DigestS3Object, "p/AWSLogs/111111111111/CloudTrail-Digest/eu-west-1/2026/03/01/111111111111_CloudTrail-Digest_eu-west-1_t_eu-west-1_") {
			t.Errorf("digest key %s", d.DigestS3Object)
		}
		if i == 0 {
			if d.PreviousDigestSignature != nil || !bytes.Contains(plains[0], []byte(`"previousDigestSignature":null`)) {
				t.Errorf("first digest links to a previous one: %s", plains[0])
			}
		} else {
			p := ds[i-1]
			if *d.PreviousDigestS3Object != p.DigestS3Object || *d.PreviousDigestHashValue != digest.Hash(plains[i-1]) ||
				*d.PreviousDigestSignature != metas[i-1][digest.MetaSignature] || d.DigestStartTime != p.DigestEndTime {
				t.Errorf("digest %d does not chain to %d", i, i-1)
			}
		}
		for _, lf := range d.LogFiles {
			if _, ok := logs[lf.S3Object]; !ok {
				t.Errorf("digest lists %s, which was not delivered", lf.S3Object)
			}
			b, _ := f.bk.Bucket(context.Background(), "b")
			data, _, _ := b.Get(context.Background(), lf.S3Object)
			zr, _ := gzip.NewReader(bytes.NewReader(data))
			plain, _ := io.ReadAll(zr)
			if digest.Hash(plain) != lf.HashValue {
				t.Errorf("%s: listed hash %s, file hashes to %s", lf.S3Object, lf.HashValue, digest.Hash(plain))
			}
			listed++
		}
	}
	if listed != len(logs) {
		t.Errorf("%d log files listed, %d delivered", listed, len(logs))
	}
	if len(ds[1].LogFiles) != 0 || ds[1].NewestEventTime != nil || !bytes.Contains(plains[1], []byte(`"logFiles":[]`)) {
		t.Errorf("the empty period's digest: %s", plains[1])
	}
	if ds[2].DigestEndTime != "2026-03-01T10:06:00Z" {
		t.Errorf("last digest ends %s", ds[2].DigestEndTime)
	}
}

func TestDigestsExplainTheGapAfterStopLogging(t *testing.T) {
	f := newFixture(t, delivery.Options{DigestInterval: time.Minute}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b", LogFileValidationEnabled: true})
	f.clk.Set(t0.Add(10 * time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(90 * time.Second))
	waitDigests(t, f, arn, 1)

	setLogging := func(on bool) {
		tr, _ := f.st.GetTrail(context.Background(), arn)
		set, _ := trail.DecodeSettings(tr.Doc)
		now := f.clk.Now()
		set.IsLogging = on
		if on {
			set.StartLoggingTime = &now
		} else {
			set.StopLoggingTime = &now
		}
		tr.Doc, _ = json.Marshal(set)
		if err := f.st.UpdateTrail(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
		f.d.Wake()
		// Let delivery see the change before the clock moves: it polls at
		// least once a second.
		f.clk.Advance(time.Second)
	}
	setLogging(false)
	f.clk.Set(t0.Add(10 * time.Minute)) // no digests while stopped
	setLogging(true)
	f.clk.Set(t0.Add(10*time.Minute + 20*time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(12 * time.Minute))
	waitDigests(t, f, arn, 4) // 10:01, 10:02 (the period logging stopped in), 10:11, 10:12

	ds, plains, _ := f.readDigests("b")
	var restart *digest.Digest
	for i, d := range ds {
		if d.Gap != nil {
			restart = d
			if d.PreviousDigestSignature != nil {
				t.Errorf("the digest after a gap links to a previous one: %s", plains[i])
			}
		}
	}
	if restart == nil || restart.Gap.Reason != digest.GapLoggingStopped || restart.Gap.PreviousObject == "" || restart.Gap.End != "2026-03-01T10:10:00Z" {
		for _, p := range plains {
			t.Logf("%s", p)
		}
		t.Fatalf("no explained gap")
	}
	for _, d := range ds {
		if d.DigestEndTime > "2026-03-01T10:03:00Z" && d.DigestEndTime <= "2026-03-01T10:10:00Z" {
			t.Errorf("digest %s delivered while logging was stopped", d.DigestS3Object)
		}
	}
}

// waitDigests waits until delivery is idle and checks that the trail has
// written n digests.
func waitDigests(t *testing.T, f *fixture, arn string, n int64) {
	t.Helper()
	f.settle()
	if st, _ := f.d.Status(context.Background(), arn); st.Digests < n {
		t.Fatalf("%d digests delivered, want %d: %+v", st.Digests, n, st)
	}
}

// waitVerified waits until the background verifier has finished n
// checks. It runs on its own goroutine, not on the clock.
func waitVerified(t *testing.T, f *fixture, n uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var b bytes.Buffer
		f.reg.Write(&b)
		var got uint64
		for line := range strings.Lines(b.String()) {
			if v, ok := strings.CutPrefix(line, "opentrail_digest_verifications_total "); ok {
				got, _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d digest checks done, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestVerifierCatchesAChangedLogFile(t *testing.T) {
	f := newFixture(t, delivery.Options{DigestInterval: time.Minute, VerifyDigests: true}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b", LogFileValidationEnabled: true})
	f.clk.Set(t0.Add(10 * time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(70 * time.Second))
	waitDigests(t, f, arn, 1)
	waitVerified(t, f, 1) // the first digest's own check
	if st, _ := f.d.Status(context.Background(), arn); st.LatestVerifyError != "" {
		t.Fatalf("clean trail flagged: %s", st.LatestVerifyError)
	}
	// Change the delivered log file behind opentrail's back.
	files := f.files("b")
	if len(files) != 1 {
		t.Fatalf("%d log files", len(files))
	}
	b, _ := f.bk.Bucket(context.Background(), "b")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"Records":[]}`))
	zw.Close()
	if err := b.Put(context.Background(), files[0].key.String(), z.Bytes(), nil); err != nil {
		t.Fatal(err)
	}
	// The next digest's check covers the digest before it.
	f.clk.Set(t0.Add(130 * time.Second))
	waitDigests(t, f, arn, 2)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := f.d.Status(context.Background(), arn)
		if strings.Contains(st.LatestVerifyError, files[0].key.String()) && strings.Contains(st.LatestVerifyError, "hash value doesn't match") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the verifier did not report the changed file: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A digest is written when the clock reaches the end of its period, not
// before, even though the period's last delivery window closed earlier.
func TestDigestWrittenAtTheEndOfItsPeriod(t *testing.T) {
	f := newFixture(t, delivery.Options{DigestInterval: 2 * time.Minute}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b", LogFileValidationEnabled: true})
	f.clk.Set(t0.Add(10 * time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(2*time.Minute - time.Second))
	if files := f.files("b"); len(files) != 1 {
		t.Fatalf("%d log files after the first window, want 1", len(files))
	}
	if st, _ := f.d.Status(context.Background(), arn); st.Digests != 0 {
		t.Fatalf("%d digests before the period ended", st.Digests)
	}
	f.clk.Advance(time.Second)
	waitDigests(t, f, arn, 1)
	ds, _, _ := f.readDigests("b")
	if len(ds) != 1 || ds[0].DigestStartTime != "2026-03-01T10:00:00Z" || ds[0].DigestEndTime != "2026-03-01T10:02:00Z" || len(ds[0].LogFiles) != 1 {
		t.Errorf("digests %+v, want one of 10:00–10:02 listing the log file", ds)
	}
}
