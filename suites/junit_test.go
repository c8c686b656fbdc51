package suites_test

import (
	"encoding/xml"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// The JUnit report CI reads (forCIJUnit, ciJUnitConfig), checked on a
// made-up report of one passed and one failed spec: no stack, no fault.
var _ = Describe("the JUnit report for CI", Label("report"), func() {
	It("keeps a failed spec's failure, output and visible entries whole, and a passed spec's verdict only", func() {
		spec := func(name string, state types.SpecState, out string) types.SpecReport {
			return types.SpecReport{
				ContainerHierarchyTexts:    []string{"junit"},
				LeafNodeType:               types.NodeTypeIt,
				LeafNodeText:               name,
				State:                      state,
				CapturedGinkgoWriterOutput: out + " GinkgoWriter\n",
				CapturedStdOutErr:          out + " stdout\n",
				ReportEntries: types.ReportEntries{
					{Name: "summary", Visibility: types.ReportEntryVisibilityAlways, Value: types.WrapEntryValue(out + " verdict")},
					{Name: "result", Visibility: types.ReportEntryVisibilityNever, Value: types.WrapEntryValue(out + " whole result")},
				},
			}
		}
		failed := spec("fails", types.SpecStateFailed, "failing")
		failed.Failure = types.Failure{Message: "failing assertion message", FailureNodeType: types.NodeTypeIt}
		in := types.Report{
			SuiteDescription: "junit",
			SpecReports:      types.SpecReports{spec("passes", types.SpecStatePassed, "passing"), failed},
		}

		path := filepath.Join(GinkgoT().TempDir(), "junit.xml")
		Expect(reporters.GenerateJUnitReportWithConfig(forCIJUnit(in), path, ciJUnitConfig)).To(Succeed())
		data, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		var got reporters.JUnitTestSuites
		Expect(xml.Unmarshal(data, &got)).To(Succeed())
		Expect(got.TestSuites).To(HaveLen(1))
		cases := got.TestSuites[0].TestCases
		Expect(cases).To(HaveLen(2))
		props := func(c reporters.JUnitTestCase) []string {
			var names []string
			if c.Properties != nil {
				for _, p := range c.Properties.Properties {
					names = append(names, p.Name+"="+p.Value)
				}
			}
			return names
		}

		By("the passed spec: its visible verdict, no timeline, no captured output, no hidden entry")
		pass := cases[0]
		Expect(pass.Name).To(ContainSubstring("passes"))
		Expect(pass.Status).To(Equal("passed"))
		Expect(pass.SystemErr).To(BeEmpty(), "timeline of a passed spec")
		Expect(pass.SystemOut).To(BeEmpty(), "captured stdout/stderr of a passed spec")
		Expect(props(pass)).To(ConsistOf(`summary="passing verdict"`))

		By("the failed spec: failure message, timeline with its GinkgoWriter output and verdict, captured output; no hidden entry")
		fail := cases[1]
		Expect(fail.Name).To(ContainSubstring("fails"))
		Expect(fail.Failure).NotTo(BeNil())
		Expect(fail.Failure.Message).To(Equal("failing assertion message"))
		Expect(fail.Failure.Description).To(ContainSubstring("failing assertion message"))
		Expect(fail.SystemErr).To(ContainSubstring("failing GinkgoWriter"))
		Expect(fail.SystemErr).To(ContainSubstring("failing verdict"))
		Expect(fail.SystemOut).To(Equal("failing stdout\n"))
		Expect(props(fail)).To(ConsistOf(`summary="failing verdict"`))
		Expect(string(data)).NotTo(ContainSubstring("whole result"), "hidden report entries stay in the JSON report only")

		By("the report given is left as it was (the JSON report is written from it)")
		Expect(in.SpecReports[0].CapturedStdOutErr).To(Equal("passing stdout\n"))
		Expect(in.SpecReports[1].ReportEntries).To(HaveLen(2))
	})
})
