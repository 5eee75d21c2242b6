package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FileOptions configures a source that reads a file.
type FileOptions struct {
	// Resume is a Progress.Resume token from an earlier source over the
	// same file. When the reader is also an io.Seeker (an *os.File) the
	// source seeks straight to the position; otherwise it reads up to it.
	Resume string
}

// rows is a file format's row reader. next reads one row and turns it into
// the records it holds (a Bitly row can name a link twice); it returns
// io.EOF at the end, a *RowError for a row it could not read, or a fatal
// error. pos is the byte offset and line count just after the last row read.
// restart makes the reader continue from an offset and line that pos
// returned earlier, over the same file.
type rows interface {
	next() ([]Record, error)
	pos() (offset int64, line int64)
	restart(offset, line int64) error
}

// fileSource yields the records of a rows reader, one at a time, and knows
// where to resume.
type fileSource struct {
	kind string
	rows rows

	pending []Record // records of the current row not yet returned
	done    int      // records of the current row already returned

	read int64
	// The resume position: the start of the row being returned, and how
	// many of its records are already out; or the end of the last row read
	// once all its records are out.
	offset, line int64
	skip         int
	started      bool
}

func newFileSource(kind string, rs rows, resume string) (*fileSource, error) {
	s := &fileSource{kind: kind, rows: rs}
	s.offset, s.line = rs.pos()
	if resume == "" {
		return s, nil
	}
	t, err := parseToken(kind, resume)
	if err != nil {
		return nil, err
	}
	v, err := t.ints("read", "off", "line", "skip")
	if err != nil {
		return nil, err
	}
	if err := rs.restart(v[1], v[2]); err != nil {
		return nil, err
	}
	s.read, s.offset, s.line, s.started = v[0], v[1], v[2], true
	if v[3] > 0 {
		// Part of a row's records were out: read it again and drop them.
		recs, err := rs.next()
		if err != nil || int64(len(recs)) <= v[3] {
			return nil, fmt.Errorf("%w: the row at line %d is not the one the token was made on", ErrResume, v[2]+1)
		}
		s.pending, s.done, s.skip = recs[v[3]:], int(v[3]), int(v[3])
	}
	return s, nil
}

func (s *fileSource) Next(ctx context.Context) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	for len(s.pending) == 0 {
		start, startLine := s.rows.pos()
		recs, err := s.rows.next()
		var re *RowError
		switch {
		case errors.As(err, &re):
			s.read++
			s.started = true
			s.offset, s.line = s.rows.pos()
			s.skip = 0
			return Record{}, err
		case err != nil:
			return Record{}, err
		}
		s.pending, s.done = recs, 0
		s.offset, s.line = start, startLine
	}
	r := s.pending[0]
	s.pending = s.pending[1:]
	s.done++
	s.started = true
	if len(s.pending) == 0 {
		s.read++
		s.offset, s.line = s.rows.pos()
		s.skip = 0
	} else {
		s.skip = s.done
	}
	return r, nil
}

func (s *fileSource) Progress() Progress {
	p := Progress{Read: s.read, Total: -1}
	if s.started {
		t := newToken(s.kind, s.read)
		t.setInt("off", s.offset)
		t.setInt("line", s.line)
		t.setInt("skip", int64(s.skip))
		p.Resume = t.String()
	}
	return p
}

func (s *fileSource) Close() error { return nil }

// skipBOM drops a leading UTF-8 byte order mark, which spreadsheet programs
// put in front of CSV files, and says how many bytes it dropped.
func skipBOM(br *bufio.Reader) int64 {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		br.Discard(3)
		return 3
	}
	return 0
}

// restartAt positions a reader at offset for a rows reader's restart: by
// seeking when it can, or else by calling skip, which reads forward.
func restartAt(r io.Reader, offset int64, skip func() error) (seeked bool, err error) {
	if sk, ok := r.(io.Seeker); ok {
		if _, err := sk.Seek(offset, io.SeekStart); err != nil {
			return false, fmt.Errorf("seek to resume: %w", err)
		}
		return true, nil
	}
	return false, skip()
}

// csvRows reads CSV rows with a header line. decode turns a row's fields
// into records; ref is the row's place for reports.
type csvRows struct {
	src    io.Reader
	cr     *csv.Reader
	strict bool // every row must have as many fields as the header

	base, baseLine int64 // where cr started in the file: byte offset, lines before it
	endLine        int64 // the line the last row read ends on
	header         []string
	decode         func(fields []string, ref string) ([]Record, error)
}

// newCSVRows reads the header of r and hands it to setup, which checks it
// and returns the decoder for the rows.
func newCSVRows(r io.Reader, strict bool, setup func(header []string) (func([]string, string) ([]Record, error), error)) (*csvRows, error) {
	c := &csvRows{src: r, strict: strict}
	br := bufio.NewReader(r)
	c.base = skipBOM(br)
	c.cr = c.newReader(br)
	h, err := c.cr.Read()
	if err == io.EOF {
		return nil, errors.New("the file is empty: it has no header line")
	}
	if err != nil {
		return nil, fmt.Errorf("read the header line: %w", err)
	}
	c.header = append([]string(nil), h...)
	c.noteEnd(h)
	if c.decode, err = setup(c.header); err != nil {
		return nil, err
	}
	if strict {
		c.cr.FieldsPerRecord = len(c.header)
	}
	return c, nil
}

func (c *csvRows) newReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	if c.strict && c.header != nil {
		cr.FieldsPerRecord = len(c.header)
	}
	return cr
}

func (c *csvRows) next() ([]Record, error) {
	fields, err := c.cr.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		c.endLine = c.baseLine + int64(pe.Line)
		return nil, &RowError{Ref: fmt.Sprintf("line %d", c.baseLine+int64(pe.StartLine)), Err: pe.Err}
	}
	if err != nil {
		return nil, err
	}
	line := c.noteEnd(fields)
	return c.decode(fields, fmt.Sprintf("line %d", line))
}

// noteEnd records the line the row just read ends on, counting the line
// breaks inside its last field, and returns the line it starts on.
func (c *csvRows) noteEnd(fields []string) int64 {
	first, _ := c.cr.FieldPos(0)
	last, _ := c.cr.FieldPos(len(fields) - 1)
	c.endLine = c.baseLine + int64(last) + int64(strings.Count(fields[len(fields)-1], "\n"))
	return c.baseLine + int64(first)
}

func (c *csvRows) pos() (int64, int64) {
	return c.base + c.cr.InputOffset(), c.endLine
}

func (c *csvRows) restart(offset, line int64) error {
	seeked, err := restartAt(c.src, offset, func() error {
		for {
			at, _ := c.pos()
			switch {
			case at == offset:
				return nil
			case at > offset:
				return fmt.Errorf("%w: no row ends at byte %d of this file", ErrResume, offset)
			}
			_, err := c.next()
			var re *RowError
			switch {
			case err == io.EOF:
				return fmt.Errorf("%w: the file ends before byte %d", ErrResume, offset)
			case err != nil && !errors.As(err, &re):
				return err
			}
		}
	})
	if err != nil || !seeked {
		return err
	}
	c.cr = c.newReader(c.src)
	c.base, c.baseLine, c.endLine = offset, line, line
	return nil
}

// maxLine is the longest JSON Lines line read; a longer one is a row error.
const maxLine = 1 << 20

// jsonlRows reads JSON Lines: one JSON value a line, blank lines ignored.
type jsonlRows struct {
	src          io.Reader
	br           *bufio.Reader
	offset, line int64
	decode       func(line []byte, ref string) ([]Record, error)
	buf          []byte
}

func newJSONLRows(r io.Reader, decode func([]byte, string) ([]Record, error)) *jsonlRows {
	j := &jsonlRows{src: r, br: bufio.NewReaderSize(r, 64<<10), decode: decode}
	j.offset = skipBOM(j.br)
	return j
}

// readLine returns the next line without its line ending, or says it was
// too long (having skipped it).
func (j *jsonlRows) readLine() (line []byte, tooLong bool, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, err := j.br.ReadSlice('\n')
		j.offset += int64(len(chunk))
		if !tooLong {
			if len(j.buf)+len(chunk) > maxLine {
				tooLong, j.buf = true, j.buf[:0]
			} else {
				j.buf = append(j.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(chunk) == 0 && len(j.buf) == 0 && !tooLong:
			return nil, false, io.EOF
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		j.line++
		return bytes.TrimRight(j.buf, "\r\n"), tooLong, nil
	}
}

func (j *jsonlRows) next() ([]Record, error) {
	for {
		line, tooLong, err := j.readLine()
		if err != nil {
			return nil, err
		}
		ref := fmt.Sprintf("line %d", j.line)
		if tooLong {
			return nil, rowErr(ref, "the line is longer than %d bytes", maxLine)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return j.decode(line, ref)
	}
}

func (j *jsonlRows) pos() (int64, int64) { return j.offset, j.line }

func (j *jsonlRows) restart(offset, line int64) error {
	seeked, err := restartAt(j.src, offset, func() error {
		for j.offset < offset {
			if _, _, err := j.readLine(); err != nil {
				return fmt.Errorf("%w: the file ends before byte %d", ErrResume, offset)
			}
		}
		if j.offset != offset {
			return fmt.Errorf("%w: no line ends at byte %d of this file", ErrResume, offset)
		}
		return nil
	})
	if err != nil || !seeked {
		return err
	}
	j.br.Reset(j.src)
	j.offset, j.line = offset, line
	return nil
}
