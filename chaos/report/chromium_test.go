package report

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromiumPath is where Debian's chromium package puts the browser
// (`apt-get install -y chromium`; `make report-check` does it).
const chromiumPath = "/usr/bin/chromium"

var (
	screenshotFlag = flag.String("screenshot", "", "also keep the report's screenshot at this path (PNG)")
	reportFlag     = flag.String("report-html", "", "screenshot this HTML report instead of one rendered from the fixture")
)

// chromium runs headless Chromium on page with extra flags, with a fresh
// profile, no network services and a deadline; it returns stdout.
func chromium(t *testing.T, page string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,2000", "--virtual-time-budget=5000",
	}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestReportRendersInChromium opens a report in headless Chromium, with
// no network, and checks that every chart drew a canvas and that the
// screenshot shows the charts' shaded fault windows.
func TestReportRendersInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: install it (apt-get install -y chromium, or `make report-check` as root) to check the HTML report renders", chromiumPath)
	}
	page := *reportFlag
	if page == "" {
		page = filepath.Join(t.TempDir(), "report.html")
		f, err := os.Create(page)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteHTML(f, Source{Journal: defaultFixture().journal(), Path: "out/journal-fixture.json"}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	page, _ = filepath.Abs(page)

	t.Run("every chart drew a canvas", func(t *testing.T) {
		dom := string(chromium(t, page, "--dump-dom"))
		if m := regexp.MustCompile(`data-js-error="([^"]*)"`).FindStringSubmatch(dom); m != nil {
			t.Fatalf("the page raised a JavaScript error: %s", m[1])
		}
		expected := regexp.MustCompile(`data-charts-expected="(\d+)"`).FindStringSubmatch(dom)
		rendered := regexp.MustCompile(`data-charts-rendered="(\d+)"`).FindStringSubmatch(dom)
		if expected == nil || rendered == nil {
			t.Fatalf("the page's render check did not run (no data-charts-* attributes): is echarts inlined?")
		}
		if expected[1] == "0" || rendered[1] != expected[1] {
			missing := regexp.MustCompile(`data-charts-missing="([^"]*)"`).FindStringSubmatch(dom)
			t.Fatalf("rendered %s/%s charts; missing: %v", rendered[1], expected[1], missing)
		}
		want, _ := strconv.Atoi(expected[1])
		if n := strings.Count(dom, "<canvas"); n < want {
			t.Errorf("%d canvases in the DOM, want one per chart (%d)", n, want)
		}
	})

	t.Run("the screenshot shows the charts", func(t *testing.T) {
		shot := filepath.Join(t.TempDir(), "report.png")
		chromium(t, page, "--screenshot="+shot)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 2000 {
			t.Errorf("screenshot is %dx%d, want 1400x2000", b.Dx(), b.Dy())
		}
		st := pixelStats(img)
		t.Logf("screenshot: %.1f%% ink, %d fault-shade pixels, %d sync-orange, %d async-blue", 100*st.ink, st.shade, st.sync, st.async)
		if st.ink < 0.03 {
			t.Errorf("screenshot is nearly blank: %.1f%% of pixels differ from the background", 100*st.ink)
		}
		// The fault window's shade (rgba(224,49,49,.10) on white) is drawn
		// only by the charts' markArea: four charts, each over 100x200 px.
		if st.shade < 4*100*200 {
			t.Errorf("%d pixels of the fault shade, want the four charts' fault windows (>= %d)", st.shade, 4*100*200)
		}
		if *screenshotFlag != "" {
			b, err := os.ReadFile(shot)
			if err == nil {
				err = os.MkdirAll(filepath.Dir(*screenshotFlag), 0o755)
			}
			if err == nil {
				err = os.WriteFile(*screenshotFlag, b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot kept at %s", *screenshotFlag)
		}
	})
}

type pixels struct {
	ink                float64 // share of pixels not the page background or white
	shade, sync, async int
}

func pixelStats(img image.Image) pixels {
	near := func(r, g, b uint32, want [3]uint32, tol uint32) bool {
		d := func(a, b uint32) uint32 {
			if a > b {
				return a - b
			}
			return b - a
		}
		return d(r, want[0]) <= tol && d(g, want[1]) <= tol && d(b, want[2]) <= tol
	}
	var p pixels
	bounds := img.Bounds()
	ink := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			switch {
			case near(r, g, b, [3]uint32{245, 247, 250}, 2), near(r, g, b, [3]uint32{255, 255, 255}, 2):
			default:
				ink++
			}
			switch {
			case near(r, g, b, [3]uint32{252, 234, 234}, 4):
				p.shade++
			case near(r, g, b, [3]uint32{0xe8, 0x59, 0x0c}, 40):
				p.sync++
			case near(r, g, b, [3]uint32{0x1c, 0x7e, 0xd6}, 40):
				p.async++
			}
		}
	}
	p.ink = float64(ink) / float64(bounds.Dx()*bounds.Dy())
	return p
}
