// gm-cadvisor: the container-metrics exporter of `npm run bench:page` (deploy/bench/README.md), cAdvisor
// built from its library module because its binary module (github.com/google/cadvisor/cmd) is not served
// by the Go module proxy here. This file is ours; everything it serves is cAdvisor's own: its container
// manager with the Docker container handler (container/docker/install), its kernel-log OOM watcher (the
// manager's watchForNewOoms, which counts container_oom_events_total) and its Prometheus collector
// (metrics.NewPrometheusCollector), on /metrics of a loopback address.
//
// Why v0.57.0 and not v0.61.0 (the newest): from v0.60 the manager lives in a separate module,
// github.com/google/cadvisor/lib, and that module no longer watches the kernel log for OOM kills (no code
// in lib v0.61.0 nor in the root module v0.61.0 writes ContainerStats.OOMEvents; the watcher went to the
// unserved cmd module), so container_oom_events_total would always read 0. v0.57.0 is the newest release
// whose library still has the manager with its OOM watcher.
//
//	gm-cadvisor -listen 127.0.0.1:9338 [-housekeeping 1s] [-docker unix:///var/run/docker.sock]
//
// Only Docker containers are tracked (cAdvisor's -docker_only) and exported; their labels are exported
// only for the names given with -labels (never their environment: it holds the stack's passwords).
// Beside cAdvisor's series, one of ours, named as ours: gm_docker_container_oom_events_total, the Docker
// engine's own oom events per container, kept after the container is gone (docker_oom.go says why).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/cadvisor/cache/memory"
	"github.com/google/cadvisor/container"
	// cAdvisor's Docker container handler, registered on import.
	_ "github.com/google/cadvisor/container/docker/install"
	v2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/manager"
	"github.com/google/cadvisor/metrics"
	"github.com/google/cadvisor/utils/sysfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gm-cadvisor: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9338", "address of /metrics (host:port; loopback for the bench)")
	housekeeping := flag.Duration("housekeeping", time.Second, "how often cAdvisor reads each container's cgroup stats")
	labels := flag.String("labels", "io.gamemetrics.stack,io.gamemetrics.role", "comma-separated container labels exported as container_label_*")
	klog.InitFlags(nil) // cAdvisor logs through klog: -v=N
	flag.Parse()
	dockerHost := flag.Lookup("docker").Value.String() // cAdvisor's own -docker flag: the engine both read
	if *housekeeping < 100*time.Millisecond || *housekeeping > time.Minute {
		fail("-housekeeping: expected a duration from 100ms to 1m, got %s", *housekeeping)
	}
	if !strings.HasPrefix(*listen, "127.") && !strings.HasPrefix(*listen, "[::1]") && !strings.HasPrefix(*listen, "localhost:") {
		fail("-listen: expected a loopback address such as 127.0.0.1:9338, got %q", *listen)
	}
	// cAdvisor's own flag: track Docker containers only, not every raw cgroup of the machine.
	if err := flag.Set("docker_only", "true"); err != nil {
		fail("docker_only: %v", err)
	}

	// The metric kinds the bench's rules and a kube-prometheus dashboard read; no per-process, perf,
	// network or disk-usage walks (those cost a core on a busy machine).
	included := container.MetricSet{
		container.CpuUsageMetrics:    struct{}{},
		container.MemoryUsageMetrics: struct{}{},
		container.OOMMetrics:         struct{}{},
		container.AppMetrics:         struct{}{},
	}
	allowDynamic := false
	m, err := manager.New(
		memory.New(2*time.Minute, nil),
		sysfs.NewRealSysFs(),
		manager.HousekeepingConfig{Interval: housekeeping, AllowDynamic: &allowDynamic},
		included,
		http.DefaultClient,
		[]string{""}, // raw cgroup prefixes: none beyond the root (with -docker_only)
		nil,          // no container environment in the labels
		"",           // no perf events
		0,            // no resctrl
	)
	if err != nil {
		fail("starting cAdvisor's manager: %v", err)
	}
	if err := m.Start(); err != nil {
		fail("starting cAdvisor's manager: %v", err)
	}
	defer func() { _ = m.Stop() }()

	labelList := strings.Split(*labels, ",")
	oom := newDockerOOM(m, labelList)
	go oom.watch(context.Background(), dockerHost)

	reg := prometheus.NewRegistry()
	reg.MustRegister(oom)
	reg.MustRegister(metrics.NewPrometheusCollector(
		m,
		metrics.BaseContainerLabels(labelList),
		included,
		clock.RealClock{},
		v2.RequestOptions{IdType: v2.TypeDocker, Count: 1, Recursive: true},
	))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	fmt.Fprintf(os.Stderr, "gm-cadvisor: cAdvisor's manager (Docker handler, OOM watcher) on http://%s/metrics\n", *listen)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fail("-listen %s: %v", *listen, err)
	}
}
