#include "agent/store.h"

#include <zlib.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <prometheus/text_serializer.h>

#include "agent/metrics.h"

namespace assets {
namespace {

std::string serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

std::vector<prometheus::MetricFamily> driver_families(const std::vector<CollectorView>& views) {
  MetricsBuilder builder;
  auto& success = builder.gauge("assets_collector_success", "Whether the collector's last run succeeded (cached).");
  auto& duration =
      builder.gauge("assets_collector_duration_seconds", "Wall time of the collector's last run in seconds.");
  auto& last_run = builder.gauge("assets_collector_last_run_timestamp_seconds",
                                 "Unix time the collector's last run finished; shows how stale its values are.");
  auto& run_start = builder.gauge("assets_collector_run_start_timestamp_seconds",
                                  "Unix time the collector's latest run started; later than the last run's end while it "
                                  "is still going.");
  auto& timeout = builder.gauge("assets_collector_timeout_seconds", "Policy: how long one run of the collector may take.");
  for (const auto& view : views) {
    const Labels labels{{"collector", view.name}};
    if (view.run_start_timestamp_seconds > 0) {
      run_start.add(labels, view.run_start_timestamp_seconds);
      timeout.add(labels, view.timeout_seconds);
    }
    if (!view.has_run) continue;
    success.add(labels, view.success ? 1 : 0);
    duration.add(labels, view.duration_seconds);
    last_run.add(labels, view.last_run_timestamp_seconds);
  }
  return builder.take();
}

}  // namespace

std::string gzip_compress(std::string_view data) {
  z_stream stream{};
  // 15 + 16: a gzip header and trailer rather than a raw zlib stream.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

Store::Store(double agent_start_time) : agent_start_time_(agent_start_time) {
  std::lock_guard lock(mutex_);
  publish_locked();
}

void Store::set_collectors(const std::vector<std::string>& names, std::string config_source) {
  std::lock_guard lock(mutex_);
  std::vector<Entry> next;
  for (const auto& name : names) {
    auto old = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.view.name == name; });
    if (old != entries_.end()) {
      next.push_back(std::move(*old));
    } else {
      Entry entry;
      entry.view.name = name;
      next.push_back(std::move(entry));
    }
  }
  entries_ = std::move(next);
  config_source_ = std::move(config_source);
  publish_locked();
}

void Store::run_started(const std::string& name, double unix_time, double timeout_seconds) {
  std::lock_guard lock(mutex_);
  auto entry = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.view.name == name; });
  if (entry == entries_.end()) return;
  entry->view.run_start_timestamp_seconds = unix_time;
  entry->view.timeout_seconds = timeout_seconds;
}

RenderedRun Store::render(CollectorRun run) {
  std::string text = serialize(run.result.families);
  return {std::move(run), std::move(text)};
}

void Store::record(const std::string& name, RenderedRun rendered) {
  CollectorRun& run = rendered.run;
  std::string& text = rendered.text;
  std::lock_guard lock(mutex_);
  auto entry = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.view.name == name; });
  if (entry == entries_.end()) return;
  entry->view.has_run = true;
  entry->view.success = run.success;
  entry->view.duration_seconds = run.duration_seconds;
  entry->view.last_run_timestamp_seconds = run.timestamp_seconds;
  entry->view.error = std::move(run.error);
  entry->view.targets = std::move(run.result.targets);
  entry->text = std::move(text);
  publish_locked();
}

void Store::set_reload_status(ReloadStatus status) {
  std::lock_guard lock(mutex_);
  reload_ = status;
  publish_locked();
}

void Store::refresh() {
  std::lock_guard lock(mutex_);
  publish_locked();
}

void Store::publish_locked() {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->ready = true;
  for (const auto& entry : entries_) {
    snapshot->collectors.push_back(entry.view);
    snapshot->ready = snapshot->ready && entry.view.has_run;
  }
  snapshot->reload = reload_;
  snapshot->config_source = config_source_;

  std::string text = serialize(self_metric_families(agent_start_time_, reload_, read_process_stats()));
  text += serialize(driver_families(snapshot->collectors));
  for (const auto& entry : entries_) text += entry.text;
  snapshot->gzip = gzip_compress(text);
  snapshot->text = std::move(text);

  std::lock_guard lock(snapshot_mutex_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const Snapshot> Store::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

}  // namespace assets
