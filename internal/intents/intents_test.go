package intents_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/intents"
)

// childEnv makes the test binary the journal-appending child of
// TestKill9KeepsAcknowledgedIntents.
const childEnv = "OPENTRAIL_INTENTS_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		appendForever(dir)
		return
	}
	os.Exit(m.Run())
}

// appendForever puts intents from 16 goroutines and prints each eventID
// once Put has acknowledged it, until it is killed.
func appendForever(dir string) {
	tb, err := intents.Open(dir, intents.Options{CompactBytes: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%02d-%08d", g, i)
				err := tb.Put(context.Background(), []intents.Intent{{EventID: id, Account: "111111111111",
					Expires: time.Unix(0, int64(i)), Record: record(id)}})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				if i%3 == 0 { // churn, so that rewrites happen too
					if err := tb.Delete(context.Background(), []string{id}); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(3)
					}
					id = "-" + id
				}
				mu.Lock()
				os.Stdout.WriteString(id + "\n")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func record(id string) []byte {
	return []byte(`{"eventVersion":"1.09","eventID":"` + id + `","recipientAccountId":"111111111111","pad":"` + strings.Repeat("x", 300) + `"}`)
}

func open(t testing.TB, dir string, o intents.Options) *intents.Table {
	t.Helper()
	tb, err := intents.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

var quietLogger = slog.New(slog.DiscardHandler)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func put(t *testing.T, tb *intents.Table, account string, expires time.Time, ids ...string) {
	t.Helper()
	var ins []intents.Intent
	for _, id := range ids {
		ins = append(ins, intents.Intent{EventID: id, Account: account, Expires: expires, Record: record(id)})
	}
	if err := tb.Put(context.Background(), ins); err != nil {
		t.Fatal(err)
	}
}

func expiredIDs(t *testing.T, tb *intents.Table, now time.Time) []string {
	t.Helper()
	ins, err := tb.Expired(now, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range ins {
		if string(in.Record) != string(record(in.EventID)) {
			t.Errorf("intent %s: record %q", in.EventID, in.Record)
		}
		ids = append(ids, in.EventID)
	}
	return ids
}

func TestTableOperationsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	tb := open(t, dir, intents.Options{})
	put(t, tb, "111111111111", t0.Add(10*time.Second), "a", "b")
	put(t, tb, "222222222222", t0.Add(20*time.Second), "c")
	n, err := tb.Renew(ctx, []string{"a", "zz"}, t0.Add(30*time.Second), nil)
	if err != nil || n != 1 {
		t.Fatalf("Renew = %d, %v; want 1 (zz has no intent)", n, err)
	}
	if err := tb.Delete(ctx, []string{"b", "zz"}); err != nil {
		t.Fatal(err)
	}
	check := func(tb *intents.Table) {
		t.Helper()
		if tb.Len() != 2 {
			t.Errorf("Len = %d, want 2", tb.Len())
		}
		if got := fmt.Sprint(expiredIDs(t, tb, t0.Add(25*time.Second))); got != "[c]" {
			t.Errorf("expired at +25s: %s, want [c]", got)
		}
		if got := fmt.Sprint(expiredIDs(t, tb, t0.Add(time.Minute))); got != "[c a]" {
			t.Errorf("expired at +1m: %s, want [c a] (oldest lease first)", got)
		}
		acct, exp, ok := tb.Lookup("a")
		if !ok || acct != "111111111111" || !exp.Equal(t0.Add(30*time.Second)) {
			t.Errorf("Lookup(a) = %s %v %v", acct, exp, ok)
		}
	}
	check(tb)
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(ctx, []intents.Intent{{EventID: "x", Record: record("x")}}); !errors.Is(err, intents.ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	check(open(t, dir, intents.Options{}))
}

func TestPutRefusesAnotherAccountsEventID(t *testing.T) {
	tb := open(t, t.TempDir(), intents.Options{})
	put(t, tb, "111111111111", t0, "a")
	put(t, tb, "111111111111", t0.Add(time.Minute), "a") // a retry replaces it
	err := tb.Put(context.Background(), []intents.Intent{
		{EventID: "b", Account: "222222222222", Expires: t0, Record: record("b")},
		{EventID: "a", Account: "222222222222", Expires: t0, Record: record("a")},
	})
	if !errors.Is(err, intents.ErrIDTaken) {
		t.Fatalf("Put = %v, want ErrIDTaken", err)
	}
	if _, _, ok := tb.Lookup("b"); ok {
		t.Error("b was stored although its request was refused")
	}
	if acct, exp, _ := tb.Lookup("a"); acct != "111111111111" || !exp.Equal(t0.Add(time.Minute)) {
		t.Errorf("a = %s %v", acct, exp)
	}
}

func TestRenewCheckRefusesAll(t *testing.T) {
	tb := open(t, t.TempDir(), intents.Options{})
	put(t, tb, "111111111111", t0, "a")
	put(t, tb, "222222222222", t0, "b")
	denied := errors.New("denied")
	n, err := tb.Renew(context.Background(), []string{"a", "b"}, t0.Add(time.Hour), func(acct string) error {
		if acct != "111111111111" {
			return denied
		}
		return nil
	})
	if !errors.Is(err, denied) || n != 0 {
		t.Fatalf("Renew = %d, %v; want 0, denied", n, err)
	}
	if _, exp, _ := tb.Lookup("a"); !exp.Equal(t0) {
		t.Errorf("a renewed to %v by a refused request", exp)
	}
}

func TestTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	tb := open(t, dir, intents.Options{})
	put(t, tb, "111111111111", t0, "a", "b")
	tb.Close()
	path := filepath.Join(dir, intents.FileName)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tail := range [][]byte{
		{0x10, 0, 0},                     // a torn length
		{0x10, 0, 0, 0, 1, 2, 3, 4, 'P'}, // a torn payload
		append([]byte{5, 0, 0, 0, 0, 0, 0, 0}, "Dabcd"...), // a bad checksum
	} {
		if err := os.WriteFile(path, append(append([]byte{}, whole...), tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		tb := open(t, dir, intents.Options{})
		if got := fmt.Sprint(expiredIDs(t, tb, t0)); got != "[a b]" {
			t.Errorf("tail %x: intents %s, want [a b]", tail, got)
		}
		put(t, tb, "111111111111", t0, "c") // appends after the cut
		tb.Close()
		tb = open(t, dir, intents.Options{})
		if got := fmt.Sprint(expiredIDs(t, tb, t0)); got != "[a b c]" {
			t.Errorf("tail %x, then c: intents %s, want [a b c]", tail, got)
		}
		tb.Close()
		if err := os.WriteFile(path, whole, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNotAJournal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, intents.FileName), []byte("hello world"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := intents.Open(dir, intents.Options{})
	if err == nil || !strings.Contains(err.Error(), "not an intent journal") || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("Open = %v", err)
	}
}

func TestRewriteKeepsLiveIntents(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	tb := open(t, dir, intents.Options{CompactBytes: 16 << 10})
	var live []string
	for i := range 400 {
		id := fmt.Sprintf("i%04d", i)
		put(t, tb, "111111111111", t0.Add(time.Duration(i)*time.Second), id)
		if i%10 == 0 {
			live = append(live, id)
			continue
		}
		if err := tb.Delete(ctx, []string{id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tb.Renew(ctx, live[:1], t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, intents.FileName))
	if err != nil {
		t.Fatal(err)
	}
	// 400 puts of ~370 bytes: ~150 KB without rewrites.
	if fi.Size() > 40<<10 {
		t.Errorf("journal is %d bytes after churn; rewrites should keep it near the 40 live intents", fi.Size())
	}
	check := func(tb *intents.Table) {
		t.Helper()
		got := expiredIDs(t, tb, t0.Add(2*time.Hour))
		want := append(append([]string{}, live[1:]...), live[0])
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("live intents %v, want %v", got, want)
		}
	}
	check(tb)
	tb.Close()
	check(open(t, dir, intents.Options{CompactBytes: 16 << 10}))
}

// TestGroupCommit checks that concurrent Puts share commits: 64 callers
// finish in far fewer fsyncs than calls (measured as time: one fsync
// per call would take 64 fsync times in a row).
func TestConcurrentPuts(t *testing.T) {
	tb := open(t, t.TempDir(), intents.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 64*20)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("g%02d-%02d", g, i)
				errs <- tb.Put(context.Background(), []intents.Intent{{EventID: id, Account: "1", Expires: t0, Record: record(id)}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if tb.Len() != 64*20 {
		t.Errorf("Len = %d, want %d", tb.Len(), 64*20)
	}
}

// TestKill9KeepsAcknowledgedIntents runs a child that puts (and deletes)
// intents from 16 goroutines, kills it with SIGKILL mid-stream, and
// checks that every intent it had acknowledged is in the reopened
// journal, whole, and none it had deleted.
func TestKill9KeepsAcknowledgedIntents(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		deleted := map[string]bool{}
		sc := bufio.NewScanner(out)
		for len(acked)+len(deleted) < 1500 && sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "-"); ok {
				deleted[id] = true
			} else {
				acked[sc.Text()] = true
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if len(acked)+len(deleted) < 1500 {
			t.Fatalf("round %d: the child stopped after %d intents: %s", round, len(acked)+len(deleted), stderr.String())
		}
		tb, err := intents.Open(dir, intents.Options{CompactBytes: 256 << 10})
		if err != nil {
			t.Fatal(err)
		}
		ins, err := tb.Expired(time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, in := range ins {
			have[in.EventID] = true
			if string(in.Record) != string(record(in.EventID)) {
				t.Errorf("round %d: intent %s has record %q", round, in.EventID, in.Record)
			}
		}
		lost := 0
		for id := range acked {
			if !have[id] {
				lost++
			}
		}
		back := 0
		for id := range deleted {
			if have[id] {
				back++
			}
		}
		if lost > 0 || back > 0 {
			t.Errorf("round %d: %d acknowledged intents lost, %d deleted ones back (of %d acknowledged, %d deleted)", round, lost, back, len(acked), len(deleted))
		}
		// Start the next round from an empty journal (the child reuses
		// its IDs).
		var ids []string
		for id := range have {
			ids = append(ids, id)
		}
		if err := tb.Delete(context.Background(), ids); err != nil {
			t.Fatal(err)
		}
		tb.Close()
	}
}

// TestRenewOfManyIDsIsSplit renews more IDs than one entry holds.
func TestRenewOfManyIDsIsSplit(t *testing.T) {
	dir := t.TempDir()
	tb := open(t, dir, intents.Options{})
	var ids []string
	var ins []intents.Intent
	for i := range 6000 {
		id := fmt.Sprintf("%0200d", i) // 6000 × 200 bytes: more than one 1 MiB entry
		ids = append(ids, id)
		ins = append(ins, intents.Intent{EventID: id, Account: "1", Expires: t0, Record: []byte("{}")})
	}
	if err := tb.Put(context.Background(), ins); err != nil {
		t.Fatal(err)
	}
	if n, err := tb.Renew(context.Background(), ids, t0.Add(time.Hour), nil); n != len(ids) || err != nil {
		t.Fatalf("Renew = %d, %v", n, err)
	}
	tb.Close()
	tb = open(t, dir, intents.Options{})
	for _, id := range []string{ids[0], ids[len(ids)-1]} {
		if _, exp, ok := tb.Lookup(id); !ok || !exp.Equal(t0.Add(time.Hour)) {
			t.Errorf("after reopening, %s… expires %v (%v)", id[190:], exp, ok)
		}
	}
}

// FuzzOpen feeds Open any journal: it must not panic, must keep a
// prefix of whole entries, and a second Open must see the same intents.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	tb, err := intents.Open(dir, intents.Options{})
	if err != nil {
		f.Fatal(err)
	}
	tb.Put(context.Background(), []intents.Intent{{EventID: "a", Account: "1", Expires: t0, Record: record("a")}})
	tb.Renew(context.Background(), []string{"a"}, t0.Add(time.Hour), nil)
	tb.Delete(context.Background(), []string{"a"})
	tb.Close()
	seed, err := os.ReadFile(filepath.Join(dir, intents.FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte("OTINT001"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, intents.FileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		list := func() string {
			tb, err := intents.Open(dir, intents.Options{Logger: quietLogger})
			if err != nil {
				if len(b) >= 8 && string(b[:8]) == "OTINT001" {
					t.Fatalf("Open refused a journal with a good header: %v", err)
				}
				return "refused"
			}
			defer tb.Close()
			ins, err := tb.Expired(time.Unix(0, 1<<62), 0)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(ins)
		}
		if first, second := list(), list(); first != second {
			t.Fatalf("reopening changed the intents: %s, then %s", first, second)
		}
	})
}
