// The Docker engine's own record of OOM kills, beside cAdvisor's: a counter of the engine's `oom`
// events per container (docker events, type container, action oom), kept after the container is gone.
//
// Why it is needed (deploy/bench/README.md): cAdvisor counts an OOM kill in container_oom_events_total
// on the container it hit, but a container whose only process is killed exits at once, Docker removes
// its cgroup, and cAdvisor drops the container with its series before its next housekeeping publishes
// the count: a killed single-process container is never seen at 1 (tried: the series went from 0 to
// gone). kube-state-metrics' OOM rule reads the runtime's own record of the termination for the same
// reason; this is the Docker engine's equivalent. It is ours, not cAdvisor's, and is named so
// (gm_docker_container_oom_events_total).
package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	info "github.com/google/cadvisor/info/v1"
	"github.com/google/cadvisor/manager"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
)

type dockerOOM struct {
	m       manager.Manager
	labels  []string // container labels exported, in order
	desc    *prometheus.Desc
	mu      sync.Mutex
	counts  map[string]float64           // container name → oom events seen
	lastSet map[string]map[string]string // container name → its exported labels when last seen
}

var invalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// labelName is cAdvisor's container_label_* naming, so one rule reads both exporters' series alike.
func labelName(l string) string {
	return "container_label_" + invalidLabelChar.ReplaceAllString(l, "_")
}

func newDockerOOM(m manager.Manager, labels []string) *dockerOOM {
	names := []string{"name"}
	for _, l := range labels {
		names = append(names, labelName(l))
	}
	return &dockerOOM{
		m:      m,
		labels: labels,
		desc: prometheus.NewDesc("gm_docker_container_oom_events_total",
			"The Docker engine's oom events for the container (docker events: type=container, action=oom) since gm-cadvisor started; kept after the container is gone. Not cAdvisor's.",
			names, nil),
		counts:  map[string]float64{},
		lastSet: map[string]map[string]string{},
	}
}

func (d *dockerOOM) exported(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range d.labels {
		out[l] = attrs[l]
	}
	return out
}

// record counts one oom event of the container the event's attributes name (its name and labels).
func (d *dockerOOM) record(attrs map[string]string) {
	name := attrs["name"]
	if name == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[name]++
	d.lastSet[name] = d.exported(attrs)
}

// watch follows the engine's event stream, reconnecting after an error, until ctx ends.
func (d *dockerOOM) watch(ctx context.Context, host string) {
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		fail("-docker %s: %v", host, err)
	}
	for ctx.Err() == nil {
		f := client.Filters{}
		f.Add("type", "container").Add("event", "oom")
		res := cli.Events(ctx, client.EventsListOptions{Filters: f})
	stream:
		for {
			select {
			case msg := <-res.Messages:
				d.record(msg.Actor.Attributes)
			case err := <-res.Err:
				if ctx.Err() == nil {
					fmt.Fprintf(os.Stderr, "gm-cadvisor: docker events: %v (reconnecting in 1 s)\n", err)
				}
				break stream
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (d *dockerOOM) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect: every running Docker container cAdvisor knows at 0 (a counter starts from a sample, so that
// increase() sees its first event), and every container with events at its count, running or not.
func (d *dockerOOM) Collect(ch chan<- prometheus.Metric) {
	running, _ := d.m.AllDockerContainers(&info.ContainerInfoRequest{NumStats: 0})
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range running {
		if len(c.Aliases) == 0 {
			continue
		}
		name := c.Aliases[0]
		if _, seen := d.counts[name]; !seen {
			d.counts[name] = 0
		}
		d.lastSet[name] = d.exported(c.Spec.Labels)
	}
	for name, n := range d.counts {
		values := []string{name}
		for _, l := range d.labels {
			values = append(values, d.lastSet[name][l])
		}
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, n, values...)
	}
}
