#include "tests/integration/health_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <prometheus/text_serializer.h>

#include "agent/config.h"
#include "collectors/health/health.h"
#include "tests/support/configured_collector.h"

namespace assets::testing {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) throw std::runtime_error("bad certificate extension " + value);
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) throw std::runtime_error("key generation failed");
  return key;
}

void write_pem(const std::filesystem::path& cert_path, X509* certificate, const std::filesystem::path& key_path,
               EVP_PKEY* key) {
  FILE* cert_file = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(cert_file, certificate);
  std::fclose(cert_file);
  FILE* key_file = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(key_file, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(key_file);
}

X509* new_certificate(long serial, const std::string& common_name, EVP_PKEY* key, long not_before, long not_after) {
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), serial);
  X509_gmtime_adj(X509_getm_notBefore(certificate), not_before);
  X509_gmtime_adj(X509_getm_notAfter(certificate), not_after);
  X509_set_pubkey(certificate, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  return certificate;
}

}  // namespace

bool Nginx::available() { return !find_program("nginx").empty(); }

Nginx::Nginx(const std::filesystem::path& dir, const std::string& http_block, const std::vector<int>& ports)
    : dir_(dir) {
  std::filesystem::create_directories(dir_ / "tmp");
  std::string config;
  // As root, nginx would switch its workers to `nobody`, who cannot read the temp dir.
  if (geteuid() == 0) config += "user root;\n";
  config += "pid " + (dir_ / "nginx.pid").string() + ";\n";
  config += "error_log stderr notice;\nworker_processes 1;\nevents { worker_connections 512; }\n";
  config += "http {\n  access_log off;\n  default_type text/plain;\n";
  for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    config += std::string("  ") + kind + "_temp_path " + (dir_ / "tmp" / kind).string() + ";\n";
  }
  config += http_block + "\n}\n";
  std::ofstream(dir_ / "nginx.conf") << config;
  const std::string nginx = find_program("nginx");
  process_ = Process({nginx, "-e", "stderr", "-p", dir_.string(), "-c", (dir_ / "nginx.conf").string(), "-g",
                      "daemon off;"},
                     (dir_ / "nginx.log").string());
  started_ = true;
  for (const int port : ports) started_ = started_ && wait_for_tcp(port, std::chrono::seconds(15));
}

std::string Nginx::log() const { return read_text(dir_ / "nginx.log"); }

LoopbackServer::LoopbackServer(Mode mode) : mode_(mode) {
  if (pipe(stop_pipe_) != 0) throw std::runtime_error("pipe failed");
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int yes = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(listener_, 512) != 0) {
    throw std::runtime_error("cannot listen on loopback");
  }
  socklen_t length = sizeof address;
  getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

LoopbackServer::~LoopbackServer() {
  // The pipe is never drained: once written, every poll below wakes up and returns.
  const char byte = 'x';
  if (write(stop_pipe_[1], &byte, 1) != 1) std::perror("stop pipe");
  acceptor_.join();
  for (auto& handler : handlers_) handler.join();
  close(listener_);
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
}

void LoopbackServer::accept_loop() {
  while (true) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    std::lock_guard lock(mutex_);
    handlers_.emplace_back([this, client] { serve(client); });
  }
}

void LoopbackServer::serve(int client) {
  if (mode_ == Mode::greeting) {
    const std::string greeting = "220 ready\r\n";
    send(client, greeting.data(), greeting.size(), MSG_NOSIGNAL);
    close(client);
    return;
  }
  if (mode_ == Mode::endless_header || mode_ == Mode::huge_headers) {
    char request[4096];
    if (recv(client, request, sizeof request, 0) > 0) {
      std::string head = "HTTP/1.1 200 OK\r\n";
      if (mode_ == Mode::huge_headers) {
        for (int i = 0; i < 3000; ++i) head += "X-Filler-" + std::to_string(i) + ": " + std::string(80, 'f') + "\r\n";
        head += "Content-Length: 0\r\n\r\n";
        send(client, head.data(), head.size(), MSG_NOSIGNAL);
      } else {
        head += "X-Endless: ";
        send(client, head.data(), head.size(), MSG_NOSIGNAL);
      }
    }
  }
  if (mode_ == Mode::flood || mode_ == Mode::endless_header) {
    const std::string chunk(64 * 1024, 'x');
    while (true) {
      pollfd fds[2] = {{client, POLLOUT, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0 || (fds[0].revents & (POLLERR | POLLHUP)) != 0) break;
      if (send(client, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;
    }
    close(client);
    return;
  }
  if (mode_ == Mode::huge_headers) {
    close(client);
    return;
  }
  std::string pending;
  char buffer[4096];
  while (true) {
    pollfd fds[2] = {{client, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) break;
    const ssize_t received = recv(client, buffer, sizeof buffer, 0);
    if (received <= 0) break;
    if (mode_ == Mode::silent) continue;
    if (mode_ == Mode::echo) {
      send(client, buffer, static_cast<std::size_t>(received), MSG_NOSIGNAL);
      continue;
    }
    pending.append(buffer, static_cast<std::size_t>(received));
    for (auto at = pending.find("PING"); at != std::string::npos; at = pending.find("PING")) {
      pending.erase(0, at + 4);
      const std::string pong = "+PONG\r\n";
      send(client, pong.data(), pong.size(), MSG_NOSIGNAL);
    }
  }
  close(client);
}

TestPki::TestPki(const std::filesystem::path& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  ca_key_ = new_key();
  ca_cert_ = new_certificate(serial_++, "assets test CA", ca_key_, -86400, 10 * 86400);
  X509_set_issuer_name(ca_cert_, X509_get_subject_name(ca_cert_));
  add_extension(ca_cert_, ca_cert_, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ca_cert_, ca_cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(ca_cert_, ca_cert_, NID_subject_key_identifier, "hash");
  X509_sign(ca_cert_, ca_key_, EVP_sha256());
  write_pem(ca_file(), ca_cert_, dir_ / "ca.key", ca_key_);
}

TestPki::~TestPki() {
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
}

void TestPki::issue(const std::string& name, const Spec& spec) {
  EVP_PKEY* key = new_key();
  X509* certificate =
      new_certificate(serial_++, spec.common_name, key, spec.not_before_offset_seconds, spec.not_after_offset_seconds);
  X509* issuer = spec.self_signed ? certificate : ca_cert_;
  X509_set_issuer_name(certificate, X509_get_subject_name(issuer));
  add_extension(certificate, issuer, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(certificate, issuer, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
  std::string names;
  for (const auto& dns : spec.dns_names) names += (names.empty() ? "" : ",") + std::string("DNS:") + dns;
  for (const auto& ip : spec.ip_addresses) names += (names.empty() ? "" : ",") + std::string("IP:") + ip;
  if (!names.empty()) add_extension(certificate, issuer, NID_subject_alt_name, names);
  X509_sign(certificate, spec.self_signed ? key : ca_key_, EVP_sha256());
  write_pem(cert(name), certificate, this->key(name), key);
  X509_free(certificate);
  EVP_PKEY_free(key);
}

std::unique_ptr<Collector> make_health(const std::string& config_yaml, Duration* timeout) {
  auto health = testing::configured_collector("health", config_yaml);
  if (!health) throw std::runtime_error("health collector not enabled by:\n" + config_yaml);
  if (timeout != nullptr) *timeout = health->timeout;
  return std::move(health->collector);
}

HealthRun run_health(Collector& collector, Duration timeout) {
  CollectContext context;
  const auto started = std::chrono::steady_clock::now();
  context.deadline = started + timeout;
  HealthRun run;
  run.result = collector.run(context);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return run;
}

HealthRun run_health_once(const std::string& config_yaml) {
  Duration timeout{};
  auto collector = make_health(config_yaml, &timeout);
  return run_health(*collector, timeout);
}

const TargetStatus* find_target(const CollectResult& result, const std::string& name) {
  for (const auto& target : result.targets) {
    if (target.name == name) return &target;
  }
  return nullptr;
}

std::optional<double> metric(const CollectResult& result, const std::string& family,
                             const std::map<std::string, std::string>& labels) {
  for (const auto& candidate : result.families) {
    if (candidate.name != family) continue;
    for (const auto& sample : candidate.metric) {
      std::size_t matched = 0;
      for (const auto& label : sample.label) {
        const auto wanted = labels.find(label.name);
        if (wanted != labels.end() && wanted->second == label.value) ++matched;
      }
      if (matched == labels.size()) return sample.gauge.value;
    }
  }
  return std::nullopt;
}

std::string exposition(const CollectResult& result) {
  return prometheus::TextSerializer().Serialize(result.families);
}

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace assets::testing
