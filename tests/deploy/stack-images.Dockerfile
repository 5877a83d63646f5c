# Stand-ins for compose.yml's prom/prometheus and prom/alertmanager, which the deploy test
# cannot pull (no registry here): Debian 12's packages on the local base, laid out as the
# upstream images are, so compose.yml's commands and volumes apply unchanged: the binary as
# the entrypoint, user nobody, and a data directory owned by nobody that a new named volume
# takes its owner from. Debian's versions are older than compose.yml's tags (Prometheus
# 2.42 for v2.53.0, Alertmanager 0.25 for v0.27.0).
#   tests/tools/test-image.sh prometheus|alertmanager   (builds --target prometheus|alertmanager)
ARG BASE_IMAGE

FROM ${BASE_IMAGE} AS prometheus
# The test asks the HTTP API only, and the engine loads every byte of the image at each
# run: without the web UI's JavaScript libraries (220 MB) and promtool.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* /usr/share/javascript /usr/bin/promtool \
 && install -d -o nobody -g nogroup /prometheus
USER nobody
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]

FROM ${BASE_IMAGE} AS alertmanager
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o nobody -g nogroup /alertmanager
USER nobody
WORKDIR /alertmanager
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
