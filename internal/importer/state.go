package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// State is the durable record of the files an import has finished: an
// NDJSON file, one {"source","key","size","etag"} line per file, appended
// and fsynced once every event of the file is stored. A file whose size or
// ETag changed since is imported again (the store's eventID dedupe makes
// that safe). A torn last line, left by a crash mid-write, is ignored.
// State is safe for concurrent use.
type State struct {
	mu   sync.Mutex
	f    *os.File
	done map[string]bool
}

type stateLine struct {
	Source string `json:"source"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag,omitempty"`
}

func (l stateLine) id() string {
	return l.Source + "\x00" + l.Key + "\x00" + strconv.FormatInt(l.Size, 10) + "\x00" + l.ETag
}

// OpenState opens (creating it and its directory if needed) the state
// file at path. With fresh, earlier progress is discarded.
func OpenState(path string, fresh bool) (*State, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	s := &State{done: map[string]bool{}}
	if !fresh {
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("read state: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l stateLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				s.done[l.id()] = true
			}
		}
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	// Start on a fresh line should the last write have been torn.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		f.Write([]byte{'\n'})
	}
	s.f = f
	return s, nil
}

// Done reports whether the file was finished by an earlier run.
func (s *State) Done(source string, o Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[lineFor(source, o).id()]
}

// MarkDone durably records that every event of the files is stored.
func (s *State) MarkDone(source string, objs []Object) error {
	if len(objs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, o := range objs {
		b, _ := json.Marshal(lineFor(source, o))
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync state: %w", err)
	}
	for _, o := range objs {
		s.done[lineFor(source, o).id()] = true
	}
	return nil
}

// Close closes the state file.
func (s *State) Close() error { return s.f.Close() }

func lineFor(source string, o Object) stateLine {
	return stateLine{Source: source, Key: o.Key, Size: o.Size, ETag: o.ETag}
}
