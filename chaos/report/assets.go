package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
)

// The chart library's JavaScript, vendored so that reports open with no
// network: Apache ECharts from the npm package echarts at EChartsVersion
// (dist/echarts.min.js, Apache-2.0: assets/echarts.LICENSE and
// assets/echarts.NOTICE). go-echarts builds the chart options; its pages
// would load this file from a CDN, so the report inlines it instead.
// `make report-assets` fetches it again with `npm pack` and checks
// EChartsSHA256.
const (
	EChartsVersion = "5.6.0"
	EChartsSHA256  = "bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1"
)

//go:embed assets/echarts.min.js
var echartsJS string

// echartsDigest is the SHA-256 of the embedded echarts.min.js, hex.
func echartsDigest() string {
	sum := sha256.Sum256([]byte(echartsJS))
	return hex.EncodeToString(sum[:])
}
