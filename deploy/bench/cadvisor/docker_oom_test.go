package main

import (
	"strings"
	"testing"

	info "github.com/google/cadvisor/info/v1"
	"github.com/google/cadvisor/manager"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeManager is cAdvisor's manager as the collector uses it: the running Docker containers it knows.
type fakeManager struct {
	manager.Manager
	running map[string]info.ContainerInfo
}

func (f *fakeManager) AllDockerContainers(*info.ContainerInfoRequest) (map[string]info.ContainerInfo, error) {
	return f.running, nil
}

func dockerContainer(name, role string) info.ContainerInfo {
	return info.ContainerInfo{
		ContainerReference: info.ContainerReference{Name: "/docker/" + name, Aliases: []string{name, "0123abcd"}},
		Spec:               info.ContainerSpec{Labels: map[string]string{"io.gamemetrics.role": role, "secret": "x"}},
	}
}

const head = `# HELP gm_docker_container_oom_events_total The Docker engine's oom events for the container (docker events: type=container, action=oom) since gm-cadvisor started; kept after the container is gone. Not cAdvisor's.
# TYPE gm_docker_container_oom_events_total counter
`

// A running container is exported at 0 (so increase() sees its first kill), an oom event counts 1, and
// the count stays after the container is gone from cAdvisor: what cAdvisor's own counter cannot do.
func TestCountsTheEnginesOomEventsAndKeepsThemAfterTheContainerIsGone(t *testing.T) {
	m := &fakeManager{running: map[string]info.ContainerInfo{"a": dockerContainer("gm-x-stats-api", "stats-api")}}
	d := newDockerOOM(m, []string{"io.gamemetrics.role"})
	want := func(v string) string {
		return head + `gm_docker_container_oom_events_total{container_label_io_gamemetrics_role="stats-api",name="gm-x-stats-api"} ` + v + "\n"
	}
	if err := testutil.CollectAndCompare(d, strings.NewReader(want("0"))); err != nil {
		t.Fatalf("running, no event: %v", err)
	}
	d.record(map[string]string{"name": "gm-x-stats-api", "io.gamemetrics.role": "stats-api", "image": "i"})
	m.running = map[string]info.ContainerInfo{} // OOM-killed: the container is gone from cAdvisor
	if err := testutil.CollectAndCompare(d, strings.NewReader(want("1"))); err != nil {
		t.Fatalf("after the kill, container gone: %v", err)
	}
	d.record(map[string]string{"image": "i"}) // an event without a name counts nothing
	if err := testutil.CollectAndCompare(d, strings.NewReader(want("1"))); err != nil {
		t.Fatalf("nameless event: %v", err)
	}
}
