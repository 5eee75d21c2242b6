package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"
)

// benchRecords are n typical links.
func benchRecords(n int) []Record {
	recs := make([]Record, n)
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		recs[i] = Record{
			Code: fmt.Sprintf("c%06d", i), URL: fmt.Sprintf("https://example.com/articles/%d?utm_source=newsletter", i),
			Title: "An article about something", Tags: []string{"news", "2024"},
			CreatedAt: created.Add(time.Duration(i) * time.Second), Clicks: int64(i),
		}
	}
	return recs
}

// The readers, each beside a baseline that only parses the same bytes with
// the standard library, to show what turning rows into checked Records
// costs on top of parsing them.
func BenchmarkRead(b *testing.B) {
	const n = 10000
	for _, f := range []Format{CSV, JSONL} {
		data := writeAll(b, f, benchRecords(n))
		b.Run(string(f)+"/transfer", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				src, err := OpenFile(bytes.NewReader(data), f, FileOptions{})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for {
					_, err := src.Next(context.Background())
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != n {
					b.Fatalf("read %d records, want %d", got, n)
				}
			}
		})
		b.Run(string(f)+"/baseline", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if got := parseOnly(b, f, data); got != n {
					b.Fatalf("parsed %d rows, want %d", got, n)
				}
			}
		})
	}
}

// parseOnly parses data as f with the standard library alone.
func parseOnly(b *testing.B, f Format, data []byte) int {
	rows := 0
	if f == CSV {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.ReuseRecord = true
		for {
			_, err := cr.Read()
			if err == io.EOF {
				return rows - 1 // the header
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var j jsonRecord
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			b.Fatal(err)
		}
		rows++
	}
	return rows
}

// The writers, beside the standard library writing the same fields.
func BenchmarkWrite(b *testing.B) {
	recs := benchRecords(10000)
	for _, f := range []Format{CSV, JSONL} {
		b.Run(string(f)+"/transfer", func(b *testing.B) {
			for b.Loop() {
				w, _ := NewWriter(io.Discard, f)
				for _, r := range recs {
					if err := w.Write(r); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(f)+"/baseline", func(b *testing.B) {
			for b.Loop() {
				if f == CSV {
					cw := csv.NewWriter(io.Discard)
					for _, r := range recs {
						cw.Write([]string{r.URL, r.Code, "", r.Title, "news|2024", r.CreatedAt.Format(time.RFC3339Nano), "", "", "", "", "", fmt.Sprint(r.Clicks)})
					}
					cw.Flush()
					continue
				}
				enc := json.NewEncoder(bufio.NewWriter(io.Discard))
				for _, r := range recs {
					enc.Encode(jsonRecord{URL: r.URL, Code: r.Code, Title: r.Title, Tags: r.Tags, CreatedAt: r.CreatedAt.Format(time.RFC3339Nano), Clicks: r.Clicks})
				}
			}
		})
	}
}
