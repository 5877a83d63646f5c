# The rules of alerts/ and the dashboards of grafana/dashboards/ as they are installed:
#   - runbook_url "docs/runbooks.md#..." made absolute (RUNBOOK_BASE_URL), since
#     Alertmanager shows only an absolute one as a link;
#   - the job selector: alerts/ and the dashboards select the agent's own series (up,
#     process_*) with the text job="assets-agent", the name of the scrape job in
#     deploy/prometheus/prometheus.yml. A Prometheus whose job is called otherwise (a
#     prometheus-operator Service of another name, an agent-mode Prometheus of a site, a
#     job per environment) gets rules and dashboards that select its own job:
#     JOB_SELECTOR replaces that text, e.g. job="assets-agent-branch" or
#     job=~"assets-agent|assets-agent-branch", as the monitoring mixins' selectors do.
#     tests/static/lint_monitoring.py (job-selector) keeps every job matcher of alerts/
#     and grafana/ in exactly that form, so that nothing escapes the replacement.
#
# Included by CMakeLists.txt (configure time), or as a script, which is what tests use to
# render with a selector of their own:
#   cmake -DSOURCE_DIR=. -DOUTPUT_DIR=out [-DRUNBOOK_BASE_URL=URL] [-DJOB_SELECTOR=SEL]
#         [-DWHAT=alerts|dashboards|all] -P cmake/render_monitoring.cmake
# (out/alerts/*.yml and out/dashboards/*.json; without RUNBOOK_BASE_URL the runbook_url
# stays relative.)

if(CMAKE_SCRIPT_MODE_FILE)
  cmake_policy(VERSION 3.25)
endif()

set(ASSETS_DEFAULT_JOB_SELECTOR [[job="assets-agent"]])

# Fails the configure (or the script) unless `selector` is a list of PromQL label matchers
# that fits between the braces of `up{...}`.
function(assets_check_job_selector selector)
  set(string_literal [["([^"\\]|\\.)*"|'([^'\\]|\\.)*']])
  set(matcher "[a-zA-Z_][a-zA-Z0-9_]* *(=|!=|=~|!~) *(${string_literal})")
  if(NOT selector MATCHES "^ *${matcher}( *, *${matcher})* *,? *$")
    message(FATAL_ERROR "ASSETS_AGENT_JOB_SELECTOR: not a list of label matchers: '${selector}' "
      "(for example job=\"assets-agent\" or job=~\"assets-agent|assets-agent-branch\")")
  endif()
endfunction()

# assets_render_alerts(SOURCE_DIR OUTPUT_DIR RUNBOOK_BASE_URL JOB_SELECTOR): every
# alerts/*.yml into OUTPUT_DIR (emptied first, so a removed rules file goes too).
function(assets_render_alerts source_dir output_dir runbook_base_url job_selector)
  assets_check_job_selector("${job_selector}")
  file(GLOB rules_files ${source_dir}/alerts/*.yml)
  file(REMOVE_RECURSE ${output_dir})
  file(MAKE_DIRECTORY ${output_dir})
  foreach(rules_file ${rules_files})
    get_filename_component(rules_name ${rules_file} NAME)
    file(READ ${rules_file} rules_text)
    if(NOT runbook_base_url STREQUAL "")
      string(REPLACE "runbook_url: \"docs/runbooks.md#" "runbook_url: \"${runbook_base_url}#" rules_text
        "${rules_text}")
    endif()
    string(REPLACE "${ASSETS_DEFAULT_JOB_SELECTOR}" "${job_selector}" rules_text "${rules_text}")
    file(WRITE ${output_dir}/${rules_name} "${rules_text}")
  endforeach()
endfunction()

# `text` as it is written inside a JSON string.
function(assets_json_string_text out text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# assets_render_dashboards(SOURCE_DIR OUTPUT_DIR JOB_SELECTOR): every
# grafana/dashboards/*.json into OUTPUT_DIR, the selector escaped as a JSON string's text.
function(assets_render_dashboards source_dir output_dir job_selector)
  assets_check_job_selector("${job_selector}")
  assets_json_string_text(default_json "${ASSETS_DEFAULT_JOB_SELECTOR}")
  assets_json_string_text(selector_json "${job_selector}")
  file(GLOB dashboards ${source_dir}/grafana/dashboards/*.json)
  file(REMOVE_RECURSE ${output_dir})
  file(MAKE_DIRECTORY ${output_dir})
  foreach(dashboard ${dashboards})
    get_filename_component(dashboard_name ${dashboard} NAME)
    file(READ ${dashboard} dashboard_text)
    string(REPLACE "${default_json}" "${selector_json}" dashboard_text "${dashboard_text}")
    file(WRITE ${output_dir}/${dashboard_name} "${dashboard_text}")
  endforeach()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT DEFINED SOURCE_DIR OR NOT DEFINED OUTPUT_DIR)
    message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=DIR -DOUTPUT_DIR=DIR [-DRUNBOOK_BASE_URL=URL] "
      "[-DJOB_SELECTOR=SELECTOR] [-DWHAT=alerts|dashboards|all] -P ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  if(NOT DEFINED JOB_SELECTOR)
    set(JOB_SELECTOR "${ASSETS_DEFAULT_JOB_SELECTOR}")
  endif()
  if(NOT DEFINED WHAT)
    set(WHAT all)
  endif()
  if(WHAT STREQUAL "alerts" OR WHAT STREQUAL "all")
    assets_render_alerts("${SOURCE_DIR}" "${OUTPUT_DIR}/alerts" "${RUNBOOK_BASE_URL}" "${JOB_SELECTOR}")
  endif()
  if(WHAT STREQUAL "dashboards" OR WHAT STREQUAL "all")
    assets_render_dashboards("${SOURCE_DIR}" "${OUTPUT_DIR}/dashboards" "${JOB_SELECTOR}")
  endif()
endif()
