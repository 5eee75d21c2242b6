package qr

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"io"
	"strconv"
	"strings"
	"testing"
)

// texts cover the sizes the service draws: a typical short link, the longest
// alias on a long origin, and a long text that needs version information.
var texts = []string{
	"http://localhost:8080/xY3k9Qa", // version 3: small enough for decodeSmall
	"https://links.example.org/" + strings.Repeat("a-long_alias", 5) + "end4",
	"https://example.com/" + strings.Repeat("0123456789abcdef", 12),
}

func TestPNG(t *testing.T) {
	e := New()
	for _, text := range texts {
		want := mustMatrix(t, e, text)
		n := len(want) + 2*QuietZone
		for _, size := range []int{n, 64, 255, 256, 300, 2048} {
			if size < n {
				continue
			}
			t.Run(fmt.Sprintf("%dx%d/%d", len(want), len(want), size), func(t *testing.T) {
				// The drawing holds exactly the matrix.
				b, err := drawPNG(want, size)
				if err != nil {
					t.Fatalf("drawPNG: %v", err)
				}
				got := gridFromPNG(t, decodePNG(t, b, size), len(want))
				checkStructure(t, got)
				sameGrid(t, got, want)

				// The encoder draws a valid symbol of the same version. (The
				// mask it picks may differ between calls on a tie, so the
				// modules are not compared.)
				b, err = e.PNG(text, size)
				if err != nil {
					t.Fatalf("PNG: %v", err)
				}
				got = gridFromPNG(t, decodePNG(t, b, size), len(want))
				checkStructure(t, got)
				if len(want) <= 29 {
					if s := decodeSmall(t, got); s != text {
						t.Errorf("the PNG encodes %q, want %q", s, text)
					}
				}
			})
		}
	}
}

func TestPNGTooSmall(t *testing.T) {
	e := New()
	text := texts[len(texts)-1]
	n := len(mustMatrix(t, e, text)) + 2*QuietZone
	if _, err := e.PNG(text, n-1); err == nil {
		t.Fatalf("PNG(%d pixels) for a code of %d modules with quiet zone: no error", n-1, n)
	}
	if _, err := e.PNG(text, n); err != nil {
		t.Fatalf("PNG(%d pixels): %v", n, err)
	}
}

func TestEmptyText(t *testing.T) {
	e := New()
	if _, err := e.SVG(""); err == nil {
		t.Error("SVG(\"\"): no error")
	}
	if _, err := e.PNG("", 256); err == nil {
		t.Error("PNG(\"\"): no error")
	}
}

func TestSVG(t *testing.T) {
	e := New()
	for _, text := range texts {
		want := mustMatrix(t, e, text)
		t.Run(strconv.Itoa(len(want)), func(t *testing.T) {
			got := gridFromSVG(t, drawSVG(want), len(want))
			checkStructure(t, got)
			sameGrid(t, got, want)

			b, err := e.SVG(text)
			if err != nil {
				t.Fatalf("SVG: %v", err)
			}
			got = gridFromSVG(t, b, len(want))
			checkStructure(t, got)
			if len(want) <= 29 {
				if s := decodeSmall(t, got); s != text {
					t.Errorf("the SVG encodes %q, want %q", s, text)
				}
			}
		})
	}
}

func mustMatrix(t *testing.T, e *Encoder, text string) [][]bool {
	t.Helper()
	m, err := e.matrix(text)
	if err != nil {
		t.Fatalf("matrix(%q): %v", text, err)
	}
	return m
}

func decodePNG(t *testing.T, b []byte, size int) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, size, size) {
		t.Fatalf("bounds %v, want %dx%d", got, size, size)
	}
	return img
}

// gridFromPNG reads the modules back from the image, sampling each module's
// centre, and checks that the margin around the code is white.
func gridFromPNG(t *testing.T, img image.Image, dim int) [][]bool {
	t.Helper()
	size := img.Bounds().Dx()
	scale := size / (dim + 2*QuietZone)
	offset := (size - scale*dim) / 2
	if offset < QuietZone*scale {
		t.Fatalf("quiet zone %d px, want at least %d", offset, QuietZone*scale)
	}
	dark := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		switch {
		case r == 0 && g == 0 && b == 0:
			return true
		case r == 0xffff && g == 0xffff && b == 0xffff:
			return false
		}
		t.Fatalf("pixel (%d,%d) is neither black nor white", x, y)
		return false
	}
	for y := range size {
		for x := range size {
			inside := x >= offset && x < offset+dim*scale && y >= offset && y < offset+dim*scale
			if !inside && dark(x, y) {
				t.Fatalf("dark pixel (%d,%d) in the quiet zone", x, y)
			}
		}
	}
	g := make([][]bool, dim)
	for y := range dim {
		g[y] = make([]bool, dim)
		for x := range dim {
			px, py := offset+x*scale, offset+y*scale
			g[y][x] = dark(px+scale/2, py+scale/2)
			// Every pixel of a module has its colour: sharp edges.
			if dark(px, py) != g[y][x] || dark(px+scale-1, py+scale-1) != g[y][x] {
				t.Fatalf("module (%d,%d) is not a solid square", x, y)
			}
		}
	}
	return g
}

// gridFromSVG parses the document with encoding/xml, checks that it is a
// plain image (one path, nothing active), and paints the path's rectangles.
func gridFromSVG(t *testing.T, b []byte, dim int) [][]bool {
	t.Helper()
	n := dim + 2*QuietZone
	dec := xml.NewDecoder(bytes.NewReader(b))
	var paths []string
	var root *xml.StartElement
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == nil {
			root = &se
		}
		switch se.Name.Local {
		case "svg", "rect":
		case "path":
			paths = append(paths, attr(se, "d"))
			if f := attr(se, "fill"); f != "#000" {
				t.Errorf("path fill %q, want #000", f)
			}
		default:
			t.Errorf("unexpected element <%s>", se.Name.Local)
		}
		for _, a := range se.Attr {
			if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") || a.Name.Local == "href" || a.Name.Local == "style" {
				t.Errorf("<%s> has attribute %s", se.Name.Local, a.Name.Local)
			}
		}
	}
	if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v, want svg in the SVG namespace", root)
	}
	if got, want := attr(*root, "viewBox"), fmt.Sprintf("0 0 %d %d", n, n); got != want {
		t.Errorf("viewBox %q, want %q", got, want)
	}
	if got := attr(*root, "shape-rendering"); got != "crispEdges" {
		t.Errorf("shape-rendering %q, want crispEdges", got)
	}
	if len(paths) != 1 {
		t.Fatalf("%d paths, want 1", len(paths))
	}

	g := make([][]bool, dim)
	for y := range g {
		g[y] = make([]bool, dim)
	}
	painted := 0
	for _, cmd := range strings.SplitAfter(paths[0], "z") {
		if cmd == "" {
			continue
		}
		var x, y, w, w2 int
		if _, err := fmt.Sscanf(cmd, "M%d %dh%dv1h-%dz", &x, &y, &w, &w2); err != nil || w != w2 || w < 1 {
			t.Fatalf("path command %q is not a one-module-high rectangle", cmd)
		}
		for i := range w {
			mx, my := x+i-QuietZone, y-QuietZone
			if mx < 0 || my < 0 || mx >= dim || my >= dim {
				t.Fatalf("path paints (%d,%d), outside the code", x+i, y)
			}
			if g[my][mx] {
				t.Fatalf("path paints module (%d,%d) twice", mx, my)
			}
			g[my][mx] = true
			painted++
		}
	}
	if painted == 0 {
		t.Fatal("path paints nothing")
	}
	return g
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func sameGrid(t *testing.T, got, want [][]bool) {
	t.Helper()
	count := func(g [][]bool) (n int) {
		for _, row := range g {
			for _, v := range row {
				if v {
					n++
				}
			}
		}
		return n
	}
	if count(got) != count(want) {
		t.Errorf("%d dark modules, want %d", count(got), count(want))
	}
	for y := range want {
		for x := range want {
			if got[y][x] != want[y][x] {
				t.Fatalf("module (%d,%d) = %v, want %v", x, y, got[y][x], want[y][x])
			}
		}
	}
}

// checkStructure checks the parts of a QR symbol that do not depend on the
// data: the size, the three finder patterns and their separators, the timing
// patterns, the dark module, the last alignment pattern, and the format and
// version information, each read from both of its copies. A transposed,
// mirrored or shifted image fails here.
func checkStructure(t *testing.T, g [][]bool) {
	t.Helper()
	dim := len(g)
	if (dim-17)%4 != 0 || dim < 21 || dim > 177 {
		t.Fatalf("dimension %d is not 17+4v", dim)
	}
	version := (dim - 17) / 4
	at := func(x, y int) bool { return g[y][x] }

	for _, c := range [][2]int{{0, 0}, {dim - 7, 0}, {0, dim - 7}} {
		for dy := range 7 {
			for dx := range 7 {
				ring := max(abs(dx-3), abs(dy-3))
				if want := ring != 2; at(c[0]+dx, c[1]+dy) != want {
					t.Fatalf("finder at (%d,%d): module (%d,%d) = %v, want %v", c[0], c[1], dx, dy, !want, want)
				}
			}
		}
		// The separator: a light band one module wide on the inner sides.
		for i := -1; i <= 7; i++ {
			for _, p := range [][2]int{{c[0] + i, c[1] - 1}, {c[0] + i, c[1] + 7}, {c[0] - 1, c[1] + i}, {c[0] + 7, c[1] + i}} {
				if p[0] >= 0 && p[1] >= 0 && p[0] < dim && p[1] < dim && at(p[0], p[1]) {
					t.Fatalf("separator of finder at (%d,%d): module (%d,%d) is dark", c[0], c[1], p[0], p[1])
				}
			}
		}
	}
	for i := 8; i < dim-8; i++ {
		if want := i%2 == 0; at(i, 6) != want || at(6, i) != want {
			t.Fatalf("timing pattern broken at %d", i)
		}
	}
	if !at(8, dim-8) {
		t.Fatal("the dark module beside the bottom-left finder is light")
	}
	if version >= 2 {
		c := dim - 7
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				if want := max(abs(dx), abs(dy)) != 1; at(c+dx, c+dy) != want {
					t.Fatalf("alignment pattern at (%d,%d): module (%d,%d) = %v, want %v", c, c, dx, dy, !want, want)
				}
			}
		}
	}

	// Format information, most significant bit first, in the order that
	// ISO/IEC 18004 places it.
	var f1, f2 uint
	bit := func(v *uint, x, y int) {
		*v <<= 1
		if at(x, y) {
			*v |= 1
		}
	}
	for x := 0; x <= 5; x++ {
		bit(&f1, x, 8)
	}
	bit(&f1, 7, 8)
	bit(&f1, 8, 8)
	bit(&f1, 8, 7)
	for y := 5; y >= 0; y-- {
		bit(&f1, 8, y)
	}
	for y := dim - 1; y >= dim-7; y-- {
		bit(&f2, 8, y)
	}
	for x := dim - 8; x < dim; x++ {
		bit(&f2, x, 8)
	}
	if f1 != f2 {
		t.Fatalf("format information copies differ: %015b and %015b", f1, f2)
	}
	format := f1 ^ 0b101010000010010
	if data := format >> 10; bchRemainder(data<<10, 0b10100110111, 10) != format&0x3ff {
		t.Fatalf("format information %015b fails its BCH check", format)
	}
	if level := format >> 13; level != 0b00 {
		t.Errorf("error correction level bits %02b, want 00 (M)", level)
	}

	if version >= 7 {
		var v1, v2 uint
		for y := 5; y >= 0; y-- {
			for x := dim - 9; x >= dim-11; x-- {
				bit(&v1, x, y)
			}
		}
		for x := 5; x >= 0; x-- {
			for y := dim - 9; y >= dim-11; y-- {
				bit(&v2, x, y)
			}
		}
		if v1 != v2 {
			t.Fatalf("version information copies differ: %018b and %018b", v1, v2)
		}
		if got := int(v1 >> 12); got != version {
			t.Errorf("version information says %d, the size says %d", got, version)
		}
		if bchRemainder((v1>>12)<<12, 0b1111100100101, 12) != v1&0xfff {
			t.Errorf("version information %018b fails its BCH check", v1)
		}
	}
}

// bchRemainder divides v by the generator polynomial g of the given degree
// over GF(2).
func bchRemainder(v, g uint, degree int) uint {
	for i := 31; i >= degree; i-- {
		if v&(1<<i) != 0 {
			v ^= g << (i - degree)
		}
	}
	return v
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// decodeSmall reads the text of a byte-mode symbol of version 1 to 3 at
// level M, which hold their data in one block, so no de-interleaving or
// error correction is needed. It removes the mask named in the format
// information, walks the data modules in the standard zigzag from the
// bottom-right corner, and reads the mode, the length and the bytes.
func decodeSmall(t *testing.T, g [][]bool) string {
	t.Helper()
	dim := len(g)
	version := (dim - 17) / 4
	if version < 1 || version > 3 {
		t.Fatalf("decodeSmall reads versions 1 to 3, not %d", version)
	}
	var format uint
	for x := 0; x <= 5; x++ {
		format = format<<1 | b2u(g[8][x])
	}
	format = format<<1 | b2u(g[8][7])
	format = format<<1 | b2u(g[8][8])
	format = format<<1 | b2u(g[7][8])
	for y := 5; y >= 0; y-- {
		format = format<<1 | b2u(g[y][8])
	}
	mask := map[uint]func(i, j int) bool{
		0: func(i, j int) bool { return (i+j)%2 == 0 },
		1: func(i, j int) bool { return i%2 == 0 },
		2: func(i, j int) bool { return j%3 == 0 },
		3: func(i, j int) bool { return (i+j)%3 == 0 },
		4: func(i, j int) bool { return (i/2+j/3)%2 == 0 },
		5: func(i, j int) bool { return (i*j)%2+(i*j)%3 == 0 },
		6: func(i, j int) bool { return ((i*j)%2+(i*j)%3)%2 == 0 },
		7: func(i, j int) bool { return ((i+j)%2+(i*j)%3)%2 == 0 },
	}[(format^0b101010000010010)>>10&0b111]
	function := func(i, j int) bool {
		switch {
		case i <= 8 && j <= 8, i <= 8 && j >= dim-8, i >= dim-8 && j <= 8: // finders, separators, format, dark module
			return true
		case i == 6 || j == 6: // timing
			return true
		case version >= 2 && abs(i-(dim-7)) <= 2 && abs(j-(dim-7)) <= 2: // alignment
			return true
		}
		return false
	}
	var bits []bool
	for right := dim - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		upward := (right+1)&2 == 0
		for v := range dim {
			i := v
			if upward {
				i = dim - 1 - v
			}
			for _, j := range []int{right, right - 1} {
				if !function(i, j) {
					bits = append(bits, g[i][j] != mask(i, j))
				}
			}
		}
	}
	read := func(n int) int {
		if len(bits) < n {
			t.Fatalf("the symbol ends %d bits early", n-len(bits))
		}
		v := 0
		for _, b := range bits[:n] {
			v = v<<1 | int(b2u(b))
		}
		bits = bits[n:]
		return v
	}
	if m := read(4); m != 0b0100 {
		t.Fatalf("mode %04b, want 0100 (bytes)", m)
	}
	out := make([]byte, read(8))
	for i := range out {
		out[i] = byte(read(8))
	}
	return string(out)
}

func b2u(b bool) uint {
	if b {
		return 1
	}
	return 0
}
