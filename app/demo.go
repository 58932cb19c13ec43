package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// demoOrders is the order-status service the default configuration's
// `order-status` lookup points at, so the shipped flow's self-service branch
// works with no external system. It is a documented demo, switched off as soon
// as a configuration file defines its own lookups.
//
// Rule (docs/flows.md): orders are 6–10 digits; a number starting with "000"
// does not exist (404); otherwise the last digit picks the status:
// 0–2 processing, 3–5 shipped, 6–8 delivered, 9 cancelled.
func demoOrders() *chi.Mux {
	r := chi.NewRouter()
	r.Get("/orders/{order}", func(w http.ResponseWriter, req *http.Request) {
		order := chi.URLParam(req, "order")
		if len(order) < 6 || len(order) > 10 || strings.Trim(order, "0123456789") != "" {
			http.Error(w, `{"error":"order numbers are 6 to 10 digits"}`, http.StatusBadRequest)
			return
		}
		if strings.HasPrefix(order, "000") {
			http.Error(w, `{"error":"no such order"}`, http.StatusNotFound)
			return
		}
		status := [...]string{"processing", "processing", "processing", "shipped", "shipped",
			"shipped", "delivered", "delivered", "delivered", "cancelled"}[order[len(order)-1]-'0']
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"order":    order,
			"status":   status,
			"delivery": map[string]string{"eta": time.Now().AddDate(0, 0, 2).Format("2006-01-02")},
		})
	})
	return r
}
