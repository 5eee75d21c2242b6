package analytics

import (
	"reflect"
	"testing"
	"time"
)

func TestWithUnknown(t *testing.T) {
	for _, tt := range []struct {
		name         string
		rows         []DailyCount
		humans, bots int64
		want         []DailyCount
	}{
		{
			name:   "the clicks no row holds become the empty value's",
			rows:   []DailyCount{{LinkID: 1, Dim: DimReferrer, Value: "a.example", Humans: 2}, {LinkID: 1, Dim: DimReferrer, Value: "b.example", Humans: 5, Bots: 1}},
			humans: 10, bots: 4,
			want: []DailyCount{
				{LinkID: 1, Dim: DimReferrer, Value: "b.example", Humans: 5, Bots: 1},
				{LinkID: 1, Dim: DimReferrer, Value: "", Humans: 3, Bots: 3},
				{LinkID: 1, Dim: DimReferrer, Value: "a.example", Humans: 2},
			},
		},
		{
			name:   "rows written with an empty value before keep their counts",
			rows:   []DailyCount{{LinkID: 1, Dim: DimCountry, Value: "", Humans: 4}, {LinkID: 1, Dim: DimCountry, Value: "DE", Humans: 4}},
			humans: 9,
			want: []DailyCount{
				{LinkID: 1, Dim: DimCountry, Value: "", Humans: 5},
				{LinkID: 1, Dim: DimCountry, Value: "DE", Humans: 4},
			},
		},
		{
			name:   "every click has a value",
			rows:   []DailyCount{{LinkID: 1, Dim: DimDevice, Value: "mobile", Humans: 1}, {LinkID: 1, Dim: DimDevice, Value: "bot", Bots: 2}},
			humans: 1, bots: 2,
			want: []DailyCount{
				{LinkID: 1, Dim: DimDevice, Value: "mobile", Humans: 1},
				{LinkID: 1, Dim: DimDevice, Value: "bot", Bots: 2},
			},
		},
		{
			name:   "no row at all",
			humans: 3,
			want:   []DailyCount{{LinkID: 1, Dim: DimOS, Value: "", Humans: 3}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dim := DimOS
			if len(tt.rows) > 0 {
				dim = tt.rows[0].Dim
			}
			got := WithUnknown(tt.rows, 1, dim, tt.humans, tt.bots)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBreakdownHours(t *testing.T) {
	from := time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)
	to := time.Date(2026, 12, 3, 0, 0, 0, 0, time.FixedZone("CET", 3600)) // 2 Dec, 23:00 UTC
	start, end := BreakdownHours(from, to)
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Errorf("start %v, want %v", start, want)
	}
	if want := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC); !end.Equal(want) {
		t.Errorf("end %v, want %v", end, want)
	}
}
