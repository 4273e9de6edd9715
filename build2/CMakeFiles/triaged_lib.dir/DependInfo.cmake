
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/build2/generated/dashboard_files.c" "CMakeFiles/triaged_lib.dir/generated/dashboard_files.c.o" "gcc" "CMakeFiles/triaged_lib.dir/generated/dashboard_files.c.o.d"
  "/work/main/service/core/answer.c" "CMakeFiles/triaged_lib.dir/service/core/answer.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/answer.c.o.d"
  "/work/main/service/core/backoff.c" "CMakeFiles/triaged_lib.dir/service/core/backoff.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/backoff.c.o.d"
  "/work/main/service/core/breaker.c" "CMakeFiles/triaged_lib.dir/service/core/breaker.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/breaker.c.o.d"
  "/work/main/service/core/buf.c" "CMakeFiles/triaged_lib.dir/service/core/buf.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/buf.c.o.d"
  "/work/main/service/core/cascade.c" "CMakeFiles/triaged_lib.dir/service/core/cascade.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/cascade.c.o.d"
  "/work/main/service/core/config.c" "CMakeFiles/triaged_lib.dir/service/core/config.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/config.c.o.d"
  "/work/main/service/core/dialect.c" "CMakeFiles/triaged_lib.dir/service/core/dialect.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/dialect.c.o.d"
  "/work/main/service/core/draft_check.c" "CMakeFiles/triaged_lib.dir/service/core/draft_check.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/draft_check.c.o.d"
  "/work/main/service/core/evalreport.c" "CMakeFiles/triaged_lib.dir/service/core/evalreport.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/evalreport.c.o.d"
  "/work/main/service/core/evalstats.c" "CMakeFiles/triaged_lib.dir/service/core/evalstats.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/evalstats.c.o.d"
  "/work/main/service/core/feedback.c" "CMakeFiles/triaged_lib.dir/service/core/feedback.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/feedback.c.o.d"
  "/work/main/service/core/flagship_queue.c" "CMakeFiles/triaged_lib.dir/service/core/flagship_queue.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/flagship_queue.c.o.d"
  "/work/main/service/core/hist.c" "CMakeFiles/triaged_lib.dir/service/core/hist.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/hist.c.o.d"
  "/work/main/service/core/injection.c" "CMakeFiles/triaged_lib.dir/service/core/injection.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/injection.c.o.d"
  "/work/main/service/core/intake.c" "CMakeFiles/triaged_lib.dir/service/core/intake.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/intake.c.o.d"
  "/work/main/service/core/jsonw.c" "CMakeFiles/triaged_lib.dir/service/core/jsonw.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/jsonw.c.o.d"
  "/work/main/service/core/mailtext.c" "CMakeFiles/triaged_lib.dir/service/core/mailtext.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/mailtext.c.o.d"
  "/work/main/service/core/metrics.c" "CMakeFiles/triaged_lib.dir/service/core/metrics.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/metrics.c.o.d"
  "/work/main/service/core/offsets.c" "CMakeFiles/triaged_lib.dir/service/core/offsets.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/offsets.c.o.d"
  "/work/main/service/core/prompt.c" "CMakeFiles/triaged_lib.dir/service/core/prompt.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/prompt.c.o.d"
  "/work/main/service/core/redact.c" "CMakeFiles/triaged_lib.dir/service/core/redact.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/redact.c.o.d"
  "/work/main/service/core/routes.c" "CMakeFiles/triaged_lib.dir/service/core/routes.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/routes.c.o.d"
  "/work/main/service/core/rules.c" "CMakeFiles/triaged_lib.dir/service/core/rules.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/rules.c.o.d"
  "/work/main/service/core/secret.c" "CMakeFiles/triaged_lib.dir/service/core/secret.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/secret.c.o.d"
  "/work/main/service/core/shadow_pick.c" "CMakeFiles/triaged_lib.dir/service/core/shadow_pick.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/shadow_pick.c.o.d"
  "/work/main/service/core/text.c" "CMakeFiles/triaged_lib.dir/service/core/text.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/text.c.o.d"
  "/work/main/service/core/textfile.c" "CMakeFiles/triaged_lib.dir/service/core/textfile.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/textfile.c.o.d"
  "/work/main/service/core/ticket.c" "CMakeFiles/triaged_lib.dir/service/core/ticket.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/ticket.c.o.d"
  "/work/main/service/core/xmem.c" "CMakeFiles/triaged_lib.dir/service/core/xmem.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/core/xmem.c.o.d"
  "/work/main/service/io/check_models.c" "CMakeFiles/triaged_lib.dir/service/io/check_models.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/check_models.c.o.d"
  "/work/main/service/io/dashboard.c" "CMakeFiles/triaged_lib.dir/service/io/dashboard.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/dashboard.c.o.d"
  "/work/main/service/io/db.c" "CMakeFiles/triaged_lib.dir/service/io/db.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/db.c.o.d"
  "/work/main/service/io/eval_run.c" "CMakeFiles/triaged_lib.dir/service/io/eval_run.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/eval_run.c.o.d"
  "/work/main/service/io/feedback_in.c" "CMakeFiles/triaged_lib.dir/service/io/feedback_in.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/feedback_in.c.o.d"
  "/work/main/service/io/http.c" "CMakeFiles/triaged_lib.dir/service/io/http.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/http.c.o.d"
  "/work/main/service/io/http_reply.c" "CMakeFiles/triaged_lib.dir/service/io/http_reply.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/http_reply.c.o.d"
  "/work/main/service/io/kafka_in.c" "CMakeFiles/triaged_lib.dir/service/io/kafka_in.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/kafka_in.c.o.d"
  "/work/main/service/io/kafka_out.c" "CMakeFiles/triaged_lib.dir/service/io/kafka_out.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/kafka_out.c.o.d"
  "/work/main/service/io/llm.c" "CMakeFiles/triaged_lib.dir/service/io/llm.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/llm.c.o.d"
  "/work/main/service/io/log.c" "CMakeFiles/triaged_lib.dir/service/io/log.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/log.c.o.d"
  "/work/main/service/io/looplag.c" "CMakeFiles/triaged_lib.dir/service/io/looplag.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/looplag.c.o.d"
  "/work/main/service/io/migrate.c" "CMakeFiles/triaged_lib.dir/service/io/migrate.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/migrate.c.o.d"
  "/work/main/service/io/model_call.c" "CMakeFiles/triaged_lib.dir/service/io/model_call.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/model_call.c.o.d"
  "/work/main/service/io/outbox.c" "CMakeFiles/triaged_lib.dir/service/io/outbox.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/outbox.c.o.d"
  "/work/main/service/io/store.c" "CMakeFiles/triaged_lib.dir/service/io/store.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/io/store.c.o.d"
  "/work/main/service/job.c" "CMakeFiles/triaged_lib.dir/service/job.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/job.c.o.d"
  "/work/main/service/pipeline.c" "CMakeFiles/triaged_lib.dir/service/pipeline.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/pipeline.c.o.d"
  "/work/main/service/pipeline_life.c" "CMakeFiles/triaged_lib.dir/service/pipeline_life.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/pipeline_life.c.o.d"
  "/work/main/service/safety.c" "CMakeFiles/triaged_lib.dir/service/safety.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/safety.c.o.d"
  "/work/main/service/shadow.c" "CMakeFiles/triaged_lib.dir/service/shadow.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/shadow.c.o.d"
  "/work/main/service/snapshot.c" "CMakeFiles/triaged_lib.dir/service/snapshot.c.o" "gcc" "CMakeFiles/triaged_lib.dir/service/snapshot.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
