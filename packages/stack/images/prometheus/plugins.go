// The service discoveries compiled into gamemetrics/prometheus:*-local, in place of upstream's generated
// plugins/plugins.go (every discovery; upstream's plugins.yml and `make plugins` are its own way to pick
// fewer). file and http are always in (plugins/minimum.go). Kubernetes is why this image is built from
// source at all: Debian's prometheus has it removed (its NEWS.Debian, 1.5.0+ds-1); dns is cheap and
// common. Anything else in a config (ec2_sd_configs …) fails to load here, not in the upstream image.

package plugins

import (
	_ "github.com/prometheus/prometheus/discovery/dns"        // Register dns plugin.
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // Register kubernetes plugin.
)
