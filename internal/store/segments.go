package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Record blocks live in append-only segment files beside the database
// (docs/storage.md): each file starts with segmentMagic and holds zstd
// frames back to back; the blocks table says where each frame is. A frame
// is written and fsynced before the transaction that references it
// commits, so a committed block is always readable; bytes past the last
// committed block (from a crash between the two) are cut off at start-up.

const (
	segmentMagic   = "OTSEG001"
	segmentMaxSize = 256 << 20 // a new segment starts past this size
	segmentDir     = "records"
)

// loc is where a block's frame is.
type loc struct {
	seg, off int64
	n        int32
}

type segments struct {
	dir string

	mu         sync.Mutex // guards everything below
	active     *os.File
	activeID   int64
	activeSize int64
	readers    map[int64]*os.File
}

func segName(id int64) string { return fmt.Sprintf("seg-%010d.otr", id) }

// segmentIDs lists the segment files in dir by number, ascending.
func segmentIDs(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var ids []int64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".otr") {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".otr"), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// openSegments opens the segment directory. committed maps each segment
// to the end offset of its last committed frame; anything after that is
// an uncommitted tail and is cut off.
func openSegments(dir string, committed map[int64]int64) (*segments, error) {
	dir = filepath.Join(dir, segmentDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	sg := &segments{dir: dir, readers: make(map[int64]*os.File)}
	ids, err := segmentIDs(dir)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		path := filepath.Join(dir, segName(id))
		end, ok := committed[id]
		if !ok {
			end = int64(len(segmentMagic))
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("stat segment: %w", err)
		}
		if fi.Size() > end {
			if err := os.Truncate(path, end); err != nil {
				return nil, fmt.Errorf("cut uncommitted tail of %s: %w", path, err)
			}
		} else if fi.Size() < end {
			return nil, fmt.Errorf("segment %s has %d bytes but committed blocks reach %d: store is damaged", path, fi.Size(), end)
		}
	}
	if len(ids) > 0 {
		last := ids[len(ids)-1]
		f, err := os.OpenFile(filepath.Join(dir, segName(last)), os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open segment: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("stat segment: %w", err)
		}
		sg.active, sg.activeID, sg.activeSize = f, last, fi.Size()
		if sg.activeSize < int64(len(segmentMagic)) {
			if err := sg.writeHeader(); err != nil {
				return nil, err
			}
		}
	} else if err := sg.rotate(0); err != nil {
		return nil, err
	}
	return sg, nil
}

func (sg *segments) writeHeader() error {
	if err := sg.active.Truncate(0); err != nil {
		return fmt.Errorf("segment header: %w", err)
	}
	if _, err := sg.active.WriteAt([]byte(segmentMagic), 0); err != nil {
		return fmt.Errorf("segment header: %w", err)
	}
	sg.activeSize = int64(len(segmentMagic))
	return nil
}

// rotate starts segment id as the active one. Caller holds mu (or owns sg).
func (sg *segments) rotate(id int64) error {
	path := filepath.Join(sg.dir, segName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if sg.active != nil {
		sg.active.Close()
	}
	sg.active, sg.activeID = f, id
	if err := sg.writeHeader(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync segment: %w", err)
	}
	return syncDir(sg.dir)
}

// write appends frames to the active segment; sync makes them durable. On
// error the segment is cut back to where it was, and nothing is
// referenced.
func (sg *segments) write(frames [][]byte) ([]loc, error) {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if sg.activeSize >= segmentMaxSize {
		if err := sg.rotate(sg.activeID + 1); err != nil {
			return nil, err
		}
	}
	start := sg.activeSize
	locs := make([]loc, len(frames))
	off := start
	var buf bytes.Buffer
	for i, fr := range frames {
		locs[i] = loc{seg: sg.activeID, off: off, n: int32(len(fr))}
		buf.Write(fr)
		off += int64(len(fr))
	}
	if _, err := sg.active.WriteAt(buf.Bytes(), start); err != nil {
		sg.active.Truncate(start)
		return nil, fmt.Errorf("write records: %w", err)
	}
	sg.activeSize = off
	return locs, nil
}

// sync fsyncs the segment that write put locs in. It may run while the
// caller works on other things, but not with another write: only the
// store's writer calls write and sync, and it waits for one before the
// next. On error the caller undoes locs.
func (sg *segments) sync(locs []loc) error {
	if len(locs) == 0 {
		return nil
	}
	sg.mu.Lock()
	f := sg.active
	sg.mu.Unlock()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync records: %w", err)
	}
	return nil
}

// undo cuts the active segment back to before locs, whose transaction did
// not commit.
func (sg *segments) undo(locs []loc) {
	if len(locs) == 0 {
		return
	}
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if locs[0].seg != sg.activeID {
		return
	}
	if err := sg.active.Truncate(locs[0].off); err == nil {
		sg.activeSize = locs[0].off
	}
}

// read returns the frame at l.
func (sg *segments) read(l loc) ([]byte, error) {
	f, err := sg.reader(l.seg)
	if err != nil {
		return nil, err
	}
	b := make([]byte, l.n)
	if _, err := f.ReadAt(b, l.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read segment %d at %d: %w", l.seg, l.off, err)
	}
	return b, nil
}

func (sg *segments) reader(id int64) (*os.File, error) {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if f, ok := sg.readers[id]; ok {
		return f, nil
	}
	f, err := os.Open(filepath.Join(sg.dir, segName(id)))
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	sg.readers[id] = f
	return f, nil
}

// remove deletes a segment no block refers to any more (never the active one).
func (sg *segments) remove(id int64) error {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if id == sg.activeID {
		return nil
	}
	if f, ok := sg.readers[id]; ok {
		f.Close()
		delete(sg.readers, id)
	}
	if err := os.Remove(filepath.Join(sg.dir, segName(id))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove segment: %w", err)
	}
	return nil
}

// diskBytes is the size of every segment file.
func (sg *segments) diskBytes() int64 {
	entries, _ := os.ReadDir(sg.dir)
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func (sg *segments) close() error {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	var errs []error
	for _, f := range sg.readers {
		errs = append(errs, f.Close())
	}
	sg.readers = map[int64]*os.File{}
	if sg.active != nil {
		errs = append(errs, sg.active.Close())
		sg.active = nil
	}
	return errors.Join(errs...)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
