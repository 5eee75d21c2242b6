package blocklist

import "hash/maphash"

var testSeed = maphash.MakeSeed()

func hashKey(m *Matcher, key string) uint64 { return maphash.String(m.seed, key) }
