package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the ratios as an aligned text table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "\nfaultline bench, %s, %s/%s, %d CPUs, %s; windows of %s, %d workers; took %s\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.OS, r.Arch, r.CPUs, r.GoVersion, r.Window, r.Workers, r.Elapsed.Round(100_000_000))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "comparison\tcompared\tbase\tratio")
	for _, x := range r.Ratios {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\n", x.What, x.Num, x.Base, x.Value)
	}
	return tw.Flush()
}

// WriteMarkdown prints the ratios as a Markdown table.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "| comparison | compared | base | ratio |\n|---|---:|---:|---:|\n")
	for _, x := range r.Ratios {
		fmt.Fprintf(w, "| %s | %s | %s | %.2f |\n", x.What, x.Num, x.Base, x.Value)
	}
}
