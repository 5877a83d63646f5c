// The configuration the agent runs when started without --config.file: one Assets host
// with every part of the stack on its usual local address. Targets that are absent are
// failing checks, not errors.
#include "agent/config.h"

namespace assets {

std::string_view embedded_default_config() {
  return R"yaml(
global:
  interval: 30s
  timeout: 10s
  max_parallel: 8

health:
  - name: backend
    kind: http
    url: http://127.0.0.1:8000/healthz
  - name: frontend
    kind: http
    url: http://127.0.0.1:3000/
  # nginx terminates TLS; the certificate is watched by the certificates collector, and
  # its name is not known here.
  - name: proxy
    kind: http
    url: https://127.0.0.1:443/healthz
    tls:
      insecure_skip_verify: true
  - name: redis
    kind: tcp
    address: 127.0.0.1:6379
    send: "PING\r\n"
    expect: "^\\+PONG"
  - name: postgres
    kind: postgres
    host: 127.0.0.1
    port: 5432
    user: assets_monitor  # a role with pg_monitor, not the superuser
    dbname: postgres

containers:
  socket: /var/run/docker.sock
  # `docker compose run` containers (migrations, one-off tasks) may exit non-zero.
  exclude_labels:
    com.docker.compose.oneoff: "True"
  expected_services: [backend, frontend, db, redis, proxy]

backups:
  - name: postgres
    path: /var/backups/assets
    pattern: "assets_*"
    max_age: 26h
    retention: 30d
    restore_test:
      status_file: /var/backups/assets/restore-test.json

certificates:
  files: ["/etc/letsencrypt/live/*/fullchain.pem"]

# `assets-agent maintenance start --for 30m` writes the window here; none is no window.
maintenance:
  state_file: /var/lib/assets-agent/maintenance.json
)yaml";
}

}  // namespace assets
