package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
)

// Live answers as long as the process serves HTTP.
func (s *Server) Live(w http.ResponseWriter, _ *http.Request) {
	edge.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type checkResult struct {
	Status   string `json:"status"`
	Critical bool   `json:"critical"`
}

// Ready runs every check at once, each within a short deadline, and answers
// 503 only when a critical one fails. Why a check failed goes to the log,
// not to the response: the errors name internal hosts and addresses, and
// /readyz is served on the public listener.
func (s *Server) Ready(w http.ResponseWriter, r *http.Request) {
	if s.health.draining.Load() {
		edge.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "checks": map[string]checkResult{}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	results := make(map[string]checkResult, len(s.health.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.health.checks {
		wg.Go(func() {
			res := checkResult{Status: "up", Critical: c.Critical}
			if err := c.Run(ctx); err != nil {
				res.Status = "down"
				s.log.WarnContext(ctx, "readiness check failed", "check", c.Name, "critical", c.Critical, "err", err)
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	status, code := "ready", http.StatusOK
	for _, res := range results {
		if res.Critical && res.Status != "up" {
			status, code = "not_ready", http.StatusServiceUnavailable
		}
	}
	edge.WriteJSON(w, code, map[string]any{"status": status, "checks": results})
}
