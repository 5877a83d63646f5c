/* The probe floor: the least a program can do for one probe with the agent's libraries,
 * so `make bench` can read the agent's probe cost as "N x the floor".
 *
 *   bench_probe_floor http|https|tcp TARGET RATE [CA_FILE]
 *
 * Every second it runs RATE probes one after the other, then sleeps to the next second,
 * until SIGTERM. http and https: a fresh libcurl easy handle per probe (its own connection
 * and TLS session, as each of the agent's runs has), GET TARGET (a URL), read the body,
 * close; https verifies the chain against CA_FILE. tcp: connect to TARGET (IPv4
 * host:port) and close, the agent's tcp check without `send` or `expect`. Nothing is
 * printed per probe: the bench counts probes at the target, from nginx's access log. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;

static void on_term(int signal_number) {
  (void)signal_number;
  stopping = 1;
}

static size_t discard(char* data, size_t size, size_t count, void* user) {
  (void)data;
  (void)user;
  return size * count;
}

static void probe_http(const char* url, const char* ca_file) {
  CURL* easy = curl_easy_init();
  if (easy == NULL) return;
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  if (ca_file != NULL) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
  curl_easy_perform(easy);
  curl_easy_cleanup(easy);
}

static void probe_tcp(const struct sockaddr_in* address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  connect(fd, (const struct sockaddr*)address, sizeof *address);
  close(fd);
}

static int parse_ipv4(const char* host_port, struct sockaddr_in* address) {
  char host[64];
  const char* colon = strrchr(host_port, ':');
  if (colon == NULL || (size_t)(colon - host_port) >= sizeof host) return 0;
  memcpy(host, host_port, (size_t)(colon - host_port));
  host[colon - host_port] = '\0';
  memset(address, 0, sizeof *address);
  address->sin_family = AF_INET;
  address->sin_port = htons((unsigned short)atoi(colon + 1));
  return inet_pton(AF_INET, host, &address->sin_addr) == 1;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s http|https|tcp TARGET RATE [CA_FILE]\n", argv[0]);
    return 2;
  }
  const char* kind = argv[1];
  const char* target = argv[2];
  const long rate = atol(argv[3]);
  const char* ca_file = argc > 4 ? argv[4] : NULL;
  const int tcp = strcmp(kind, "tcp") == 0;
  struct sockaddr_in address;
  if (tcp && !parse_ipv4(target, &address)) {
    fprintf(stderr, "tcp TARGET must be IPv4 host:port\n");
    return 2;
  }
  if (!tcp) curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!stopping) {
    for (long i = 0; i < rate && !stopping; ++i) {
      if (tcp) {
        probe_tcp(&address);
      } else {
        probe_http(target, ca_file);
      }
    }
    next.tv_sec += 1;
    while (!stopping && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0) {
    }
  }
  if (!tcp) curl_global_cleanup();
  return 0;
}
