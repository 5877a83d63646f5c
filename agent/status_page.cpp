// The landing page at "/": what runs, its state, and why something fails.
#include <chrono>
#include <cstdio>
#include <ctime>

#include "agent/build_info.h"
#include "agent/web_server.h"

namespace assets {
namespace {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_time(double unix_seconds) {
  if (unix_seconds <= 0) return "never";
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return buffer;
}

}  // namespace

std::string render_status_page(const Snapshot& snapshot) {
  std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>assets-agent</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.up{color:#1a7f37;font-weight:bold}.down{color:#cf222e;font-weight:bold}.pending{color:#9a6700}
</style></head><body>
<h1>assets-agent</h1>
<p>Version )";
  html += escape_html(build::kVersion);
  html += " (revision ";
  html += escape_html(build::kRevision);
  html += ") &middot; configuration: ";
  html += escape_html(snapshot.config_source);
  html += snapshot.reload.successful ? " (loaded " + format_time(snapshot.reload.success_timestamp_seconds) + ")"
                                     : " <span class=\"down\">(last reload failed: see the log)</span>";
  html += R"(</p>
<p><a href="/metrics">Metrics</a> &middot; <a href="/healthz">Health</a> &middot; <a href="/-/ready">Readiness</a></p>
<h2>Collectors</h2>
<table><tr><th>collector</th><th>state</th><th>last run</th><th>duration</th><th>error</th></tr>
)";
  for (const auto& collector : snapshot.collectors) {
    html += "<tr><td>" + escape_html(collector.name) + "</td>";
    if (!collector.has_run) {
      html += "<td class=\"pending\">pending</td><td>never</td><td></td><td></td></tr>\n";
      continue;
    }
    html += collector.success ? "<td class=\"up\">ok</td>" : "<td class=\"down\">failed</td>";
    html += "<td>" + format_time(collector.last_run_timestamp_seconds) + "</td>";
    html += "<td>" + format_seconds(collector.duration_seconds) + "</td>";
    html += "<td>" + escape_html(collector.error) + "</td></tr>\n";
  }
  html += R"(</table>
<h2>Targets</h2>
<table><tr><th>collector</th><th>name</th><th>kind</th><th>state</th><th>reason</th><th>duration</th><th>detail</th></tr>
)";
  for (const auto& collector : snapshot.collectors) {
    for (const auto& target : collector.targets) {
      html += "<tr><td>" + escape_html(collector.name) + "</td><td>" + escape_html(target.name) + "</td><td>" +
              escape_html(target.kind) + "</td>";
      html += target.up ? "<td class=\"up\">up</td>" : "<td class=\"down\">down</td>";
      html += "<td>" + escape_html(target.reason) + "</td><td>" + format_seconds(target.duration_seconds) +
              "</td><td>" + escape_html(target.detail) + "</td></tr>\n";
    }
  }
  html += "</table>\n</body></html>\n";
  return html;
}

}  // namespace assets
