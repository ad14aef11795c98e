package intents

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The journal's byte format (docs/storage.md, "Capture intents"):
//
//	file   = magic entry*
//	magic  = "OTINT001"
//	entry  = uint32 len, uint32 CRC-32C(payload), payload (len bytes)
//	payload:
//	  'P' int64 expiry, str account, str eventID, record (the rest)
//	  'R' int64 expiry, str eventID*        leases renewed
//	  'D' str eventID*                      intents dropped
//	str    = uvarint length, bytes
//
// Integers are little-endian; expiry is Unix nanoseconds.
const magic = "OTINT001"

const (
	opPut    = 'P'
	opRenew  = 'R'
	opDelete = 'D'
)

// maxEntry bounds an entry's payload: a record is at most 256 KiB (the
// event package's limit); renewals and deletions of many IDs are split.
const maxEntry = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendEntry frames payload into buf.
func appendEntry(buf, payload []byte) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(payload, castagnoli))
	return append(buf, payload...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// putPayload encodes an intent; the record starts at recordOffset bytes
// into the payload.
func putPayload(in *Intent) (p []byte, recordOffset int) {
	p = make([]byte, 0, 1+8+2+len(in.Account)+2+len(in.EventID)+len(in.Record))
	p = append(p, opPut)
	p = binary.LittleEndian.AppendUint64(p, uint64(in.Expires.UnixNano()))
	p = appendStr(p, in.Account)
	p = appendStr(p, in.EventID)
	return append(p, in.Record...), len(p)
}

// idsPayloads encodes renewals (op 'R', with expiry) or deletions (op
// 'D') of ids, split so that no payload passes maxEntry.
func idsPayloads(op byte, expiry int64, ids []string) [][]byte {
	var out [][]byte
	var p []byte
	start := func() {
		p = []byte{op}
		if op == opRenew {
			p = binary.LittleEndian.AppendUint64(p, uint64(expiry))
		}
	}
	start()
	n := 0
	for _, id := range ids {
		if len(p)+binary.MaxVarintLen64+len(id) > maxEntry && n > 0 {
			out = append(out, p)
			start()
			n = 0
		}
		p = appendStr(p, id)
		n++
	}
	if n > 0 {
		out = append(out, p)
	}
	return out
}

// entry is one decoded journal entry.
type entry struct {
	op      byte
	expiry  int64
	account string
	ids     []string // the eventID of a put; the IDs of a renewal or deletion
	// recOff and recLen place a put's record in the file.
	recOff int64
	recLen int
	n      int // the payload's length
}

var errCorrupt = errors.New("corrupt entry")

// decodePayload decodes the payload found at file offset off.
func decodePayload(p []byte, off int64) (entry, error) {
	e := entry{n: len(p)}
	if len(p) == 0 {
		return e, errCorrupt
	}
	e.op = p[0]
	rest := p[1:]
	readStr := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return "", false
		}
		s := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return s, true
	}
	switch e.op {
	case opPut, opRenew:
		if len(rest) < 8 {
			return e, errCorrupt
		}
		e.expiry = int64(binary.LittleEndian.Uint64(rest))
		rest = rest[8:]
	case opDelete:
	default:
		return e, fmt.Errorf("%w: unknown operation %q", errCorrupt, e.op)
	}
	if e.op == opPut {
		acct, ok1 := readStr()
		id, ok2 := readStr()
		if !ok1 || !ok2 || id == "" {
			return e, errCorrupt
		}
		e.account, e.ids = acct, []string{id}
		e.recOff = off + int64(len(p)-len(rest))
		e.recLen = len(rest)
		return e, nil
	}
	for len(rest) > 0 {
		id, ok := readStr()
		if !ok {
			return e, errCorrupt
		}
		e.ids = append(e.ids, id)
	}
	return e, nil
}

// scan reads the journal from its start, calling fn for each entry with
// the file offset of its payload, and returns the offset just past the
// last good entry. A torn or damaged entry ends the scan: what follows
// it was never acknowledged (each group commit is fsynced before it is
// acknowledged, and appends only ever extend the file), so it is cut
// off.
func scan(f *os.File, size int64, fn func(e entry)) (good int64, err error) {
	hdr := make([]byte, len(magic))
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), hdr); err != nil || string(hdr) != magic {
		return 0, fmt.Errorf("%s is not an intent journal (no %q header)", f.Name(), magic)
	}
	r := io.NewSectionReader(f, 0, size)
	off := int64(len(magic))
	var head [8]byte
	var buf []byte
	for off+8 <= size {
		if _, err := r.ReadAt(head[:], off); err != nil {
			return off, nil
		}
		n := int64(binary.LittleEndian.Uint32(head[:4]))
		if n == 0 || n > maxEntry || off+8+n > size {
			return off, nil
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := r.ReadAt(p, off+8); err != nil {
			return off, nil
		}
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
			return off, nil
		}
		e, err := decodePayload(p, off+8)
		if err != nil {
			return off, nil
		}
		fn(e)
		off += 8 + n
	}
	return off, nil
}
