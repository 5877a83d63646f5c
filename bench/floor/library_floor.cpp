// The library floor: a program that links the Debian libraries the agent links, initialises
// each the way the agent does, and then does nothing. Its memory is what the agent cannot
// go below with these libraries; `make bench` reports the agent as "floor + N MB".
//
//   bench_library_floor PORT    (civetweb listens on 127.0.0.1:PORT; SIGTERM ends it)
#include <ares.h>
#include <civetweb.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/ssl.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <re2/re2.h>
#include <systemd/sd-daemon.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace {

volatile std::sig_atomic_t stopping = 0;

void on_term(int) { stopping = 1; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  OPENSSL_init_ssl(0, nullptr);
  SSL_CTX* tls = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_default_verify_paths(tls);
  ares_library_init(ARES_LIB_INIT_ALL);
  ares_channel channel = nullptr;
  ares_init(&channel);
  PQconninfoOption* options = PQconninfoParse("host=127.0.0.1 dbname=postgres", nullptr);
  PQconninfoFree(options);
  const YAML::Node config = YAML::Load("global:\n  interval: 30s\n");
  const RE2 pattern("^assets_[0-9]+\\.dump$");

  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("floor_total").Help("A counter.").Register(registry);
  family.Add({{"collector", "floor"}}).Increment();
  const std::string body = prometheus::TextSerializer().Serialize(registry.Collect());
  unsigned char zipped[4096];
  uLongf zipped_size = sizeof zipped;
  compress2(zipped, &zipped_size, reinterpret_cast<const Bytef*>(body.data()), body.size(), Z_DEFAULT_COMPRESSION);

  // As the agent's web server: its worker threads, no keep-alive.
  mg_init_library(0);
  const std::string port = std::string("127.0.0.1:") + argv[1];
  const char* server_options[] = {"listening_ports", port.c_str(), "num_threads", "64", "enable_keep_alive", "no",
                                  nullptr};
  mg_callbacks callbacks{};
  mg_context* server = mg_start(&callbacks, nullptr, server_options);
  if (server == nullptr) {
    std::fprintf(stderr, "civetweb cannot listen on %s\n", port.c_str());
    return 1;
  }
  sd_notify(0, "READY=1");
  std::printf("ready %zu %d %d\n", body.size(), config["global"] ? 1 : 0, pattern.ok() ? 1 : 0);
  std::fflush(stdout);

  std::signal(SIGTERM, on_term);
  std::signal(SIGINT, on_term);
  while (stopping == 0) pause();
  mg_stop(server);
  mg_exit_library();
  ares_destroy(channel);
  ares_library_cleanup();
  SSL_CTX_free(tls);
  curl_global_cleanup();
  return 0;
}
