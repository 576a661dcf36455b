package web

import (
	"testing"

	dtomodel "github.com/prometheus/client_model/go"
)

type dto = dtomodel.MetricFamily

// one returns the metric of family name whose labels include want.
func one(t *testing.T, fams map[string]*dto, name string, want map[string]string) *dtomodel.Metric {
	t.Helper()
	mf := fams[name]
	if mf == nil {
		t.Errorf("metric %s missing", name)
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range want {
			if label(m, k) != v {
				continue next
			}
		}
		return m
	}
	t.Errorf("metric %s%v missing", name, want)
	return nil
}

func label(m *dtomodel.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value is a gauge's or counter's value; -1 for none.
func value(m *dtomodel.Metric) float64 {
	switch {
	case m == nil:
		return -1
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return -1
}
