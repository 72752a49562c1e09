package typefix

import "encoding/binary"

// performative returns the descriptor code of the performative at the
// start of a frame body.
func performative(body []byte) (uint64, bool) {
	if len(body) < 3 || body[0] != cDescribed {
		return 0, false
	}
	switch body[1] {
	case cSmallUlong:
		return uint64(body[2]), true
	case cUlong:
		if len(body) < 10 {
			return 0, false
		}
		return binary.BigEndian.Uint64(body[2:]), true
	}
	return 0, false
}

// listFields returns the offsets in body of the fields of the performative
// list and where the list ends (the payload of a transfer starts).
func listFields(body []byte, buf *[16]int) (fields []int, end int, ok bool) {
	p := 3
	if body[1] == cUlong {
		p = 10
	}
	if p >= len(body) {
		return nil, 0, false
	}
	c := body[p]
	if c == 0x45 { // list0
		return nil, p + 1, true
	}
	if c != cList8 && c != cList32 {
		return nil, 0, false
	}
	count, q, end, err := compoundHeader(body, p+1, c == cList32)
	if err != nil {
		return nil, 0, false
	}
	fields = buf[:0]
	for range count {
		if len(fields) < len(buf) {
			fields = append(fields, q)
		}
		if q, err = skipValue(body[:end], q, 0); err != nil {
			return nil, 0, false
		}
	}
	if q != end {
		return nil, 0, false
	}
	return fields, end, true
}

// readUint reads a uint (or ubyte, ushort) field; present is false for null.
func readUint(b []byte, off int) (v uint32, present bool) {
	switch b[off] {
	case cUint:
		if off+5 <= len(b) {
			return binary.BigEndian.Uint32(b[off+1:]), true
		}
	case cSmallUint, 0x50:
		if off+2 <= len(b) {
			return uint32(b[off+1]), true
		}
	case 0x60:
		if off+3 <= len(b) {
			return uint32(binary.BigEndian.Uint16(b[off+1:])), true
		}
	case cUint0:
		return 0, true
	}
	return 0, false
}

func readBool(b []byte, off int) bool {
	switch b[off] {
	case 0x41:
		return true
	case 0x56:
		return off+1 < len(b) && b[off+1] == 1
	}
	return false
}
