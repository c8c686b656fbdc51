package suites_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-harness/faultline/chaos/stack"
)

type placed struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func placeOrder(baseURL, sku string, qty int) (int, placed) {
	GinkgoHelper()
	body, _ := json.Marshal(map[string]any{"sku": sku, "quantity": qty})
	resp, err := http.Post(baseURL+"/orders", "application/json", bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var o placed
	Expect(json.NewDecoder(resp.Body).Decode(&o)).To(Succeed())
	return resp.StatusCode, o
}

func orderStatus(g Gomega, baseURL, id string) placed {
	resp, err := http.Get(baseURL + "/orders/" + id)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var o placed
	g.Expect(json.NewDecoder(resp.Body).Decode(&o)).To(Succeed())
	return o
}

var _ = Describe("Placing orders with no fault", Label("happy-path"), func() {
	var st *stack.Stack

	BeforeEach(func(ctx SpecContext) {
		st = startStack(ctx)
	}, NodeTimeout(time.Minute))

	It("confirms a synchronous order at once", func() {
		code, o := placeOrder(st.OrderSyncURL, "SKU-1", 2)
		Expect(code).To(Equal(http.StatusCreated))
		Expect(o.Status).To(Equal("CONFIRMED"))
		Expect(orderStatus(Default, st.OrderSyncURL, o.ID).Status).To(Equal("CONFIRMED"))
	})

	It("accepts an asynchronous order at once and confirms it through Kafka", func() {
		code, o := placeOrder(st.OrderAsyncURL, "SKU-1", 2)
		Expect(code).To(Equal(http.StatusAccepted))
		Expect(o.Status).To(Equal("PENDING"))
		Eventually(func(g Gomega) {
			g.Expect(orderStatus(g, st.OrderAsyncURL, o.ID).Status).To(Equal("CONFIRMED"))
		}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	})

	It("rejects orders beyond the stock in both modes", func() {
		code, _ := placeOrder(st.OrderSyncURL, "SKU-LOW", 1000)
		Expect(code).To(Equal(http.StatusConflict))

		code, o := placeOrder(st.OrderAsyncURL, "SKU-LOW", 1000)
		Expect(code).To(Equal(http.StatusAccepted))
		Eventually(func(g Gomega) {
			got := orderStatus(g, st.OrderAsyncURL, o.ID)
			g.Expect(got.Status).To(Equal("REJECTED"))
			g.Expect(got.Reason).To(Equal("insufficient_stock"))
		}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	})
})
