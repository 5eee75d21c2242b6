package edge

import "sync"

// HeaderValues hands out header values, one-element slices as http.Header
// holds them, without an allocation per response: the slices are cut from
// blocks made for many responses at once. A value is never written again
// once handed out, so a response may keep it as long as it likes; a block
// lives until the last of its values is dropped. The zero value is ready.
type HeaderValues struct {
	blocks sync.Pool // *valueBlock, one per P in practice
}

type valueBlock struct {
	vals [valuesPerBlock]string
	next int
}

// valuesPerBlock: 1 KiB per block, an allocation per 64 responses.
const valuesPerBlock = 64

// One returns []string{v} with its own backing array of capacity one, so
// that appending to it cannot reach another response's value.
func (hv *HeaderValues) One(v string) []string {
	b, _ := hv.blocks.Get().(*valueBlock)
	if b == nil || b.next == valuesPerBlock {
		b = new(valueBlock)
	}
	s := b.vals[b.next : b.next+1 : b.next+1]
	s[0] = v
	b.next++
	hv.blocks.Put(b)
	return s
}
