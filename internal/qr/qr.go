// Package qr draws QR codes as PNG and SVG images. The matrix comes from
// github.com/yeqown/go-qrcode; the image writers are small and our own, so
// that the output is exactly the size asked for and the SVG holds nothing but
// one path.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// QuietZone is the blank margin around the code, in modules. The QR standard
// asks for four; scanners struggle with less.
const QuietZone = 4

// Encoder draws QR codes at error correction level M (15% of the code may be
// damaged), which keeps codes for short links small and still forgiving.
// An Encoder is safe for concurrent use.
type Encoder struct{}

// New returns an Encoder.
func New() *Encoder { return &Encoder{} }

// matrix returns the modules of the QR code for text, without a quiet zone:
// m[y][x] is true for a dark module. The matrix is square.
func (e *Encoder) matrix(text string) ([][]bool, error) {
	if text == "" {
		return nil, errors.New("qr: nothing to encode")
	}
	// Byte mode holds any URL; the automatic choice could pick Kanji mode
	// for some inputs, which no URL needs.
	code, err := qrcode.NewWith(text,
		qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium),
		qrcode.WithEncodingMode(qrcode.EncModeByte),
	)
	if err != nil {
		return nil, fmt.Errorf("qr: encode %d bytes: %w", len(text), err)
	}
	var c capture
	if err := code.Save(&c); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	if len(c.bits) == 0 || len(c.bits) != len(c.bits[0]) {
		return nil, errors.New("qr: the encoder returned no square matrix")
	}
	return c.bits, nil
}

// capture is a qrcode.Writer that keeps the matrix as booleans.
type capture struct{ bits [][]bool }

func (c *capture) Write(m qrcode.Matrix) error {
	c.bits = m.Bitmap()
	return nil
}

func (c *capture) Close() error { return nil }

// PNG draws the code for text as a size×size pixel, black-on-white PNG.
// Modules are whole pixels so that edges stay sharp; what is left over when
// size is not a multiple of the module count widens the quiet zone. It
// returns an error when size is too small to give each module a pixel.
func (e *Encoder) PNG(text string, size int) ([]byte, error) {
	m, err := e.matrix(text)
	if err != nil {
		return nil, err
	}
	return drawPNG(m, size)
}

func drawPNG(m [][]bool, size int) ([]byte, error) {
	n := len(m) + 2*QuietZone
	scale := size / n
	if scale < 1 {
		return nil, fmt.Errorf("qr: %d pixels cannot hold this code; it needs at least %d", size, n)
	}
	offset := (size - scale*len(m)) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			for py := offset + y*scale; py < offset+(y+1)*scale; py++ {
				start := img.PixOffset(offset+x*scale, py)
				for i := range scale {
					img.Pix[start+i] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: png: %w", err)
	}
	return buf.Bytes(), nil
}

// SVG draws the code for text as a scalable image: one square unit per
// module, a quiet zone, a white background and a single path of the dark
// modules. It holds no script, style sheet or external reference.
func (e *Encoder) SVG(text string) ([]byte, error) {
	m, err := e.matrix(text)
	if err != nil {
		return nil, err
	}
	return drawSVG(m), nil
}

func drawSVG(m [][]bool) []byte {
	n := strconv.Itoa(len(m) + 2*QuietZone)
	var b bytes.Buffer
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + n + ` ` + n +
		`" shape-rendering="crispEdges"><rect width="` + n + `" height="` + n + `" fill="#fff"/><path fill="#000" d="`)
	// Each run of dark modules in a row is one rectangle.
	for y, row := range m {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			w := strconv.Itoa(run)
			b.WriteString("M" + strconv.Itoa(x+QuietZone) + " " + strconv.Itoa(y+QuietZone) + "h" + w + "v1h-" + w + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>` + "\n")
	return b.Bytes()
}
