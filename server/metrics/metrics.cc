#include "server/metrics/metrics.h"

#include <exception>
#include <initializer_list>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/client_metric.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/metrics/heap_usage.h"

namespace quantd::server {
namespace {

// 0.1 ms to ~5 s in steps of about 2x: small CNNs answer in well under a
// millisecond per sample, large batches of ResNet-50 take seconds.
prometheus::Histogram::BucketBoundaries InferLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0};
}

// Samples per Infer call: powers of two up to the largest batches clients send.
prometheus::Histogram::BucketBoundaries BatchSizeBuckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
}

// Jobs run from seconds (a small model, a few hundred samples) to an hour.
prometheus::Histogram::BucketBoundaries JobDurationBuckets() {
  return {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
}

// "host:port" with the port the exposer actually bound.
std::string BoundAddress(const std::string& requested, int port) {
  const size_t colon = requested.rfind(':');
  const std::string host = colon == std::string::npos ? requested : requested.substr(0, colon);
  return absl::StrCat(host, ":", port);
}

// Triton's per-model counters (nv_inference_*), rendered at each scrape from
// the same statistics the ModelStatistics RPC reports, so the two never
// disagree and a deleted version's series go with its statistics.
class TritonCounters final : public prometheus::Collectable {
 public:
  explicit TritonCounters(const InferStatistics* statistics) : statistics_(statistics) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const std::vector<VersionStatistics> versions = statistics_->Snapshot();
    using Value = double (*)(const VersionStatistics&);
    const struct {
      const char* name;
      const char* help;
      Value value;
    } kCounters[] = {
        {"nv_inference_request_success", "Number of successful inference requests, all batch sizes",
         [](const VersionStatistics& v) { return static_cast<double>(v.success.count); }},
        {"nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
         [](const VersionStatistics& v) { return static_cast<double>(v.fail.count); }},
        {"nv_inference_count", "Number of inferences performed (samples of successful requests)",
         [](const VersionStatistics& v) { return static_cast<double>(v.inference_count); }},
        {"nv_inference_exec_count",
         "Number of model executions performed (merged requests count once)",
         [](const VersionStatistics& v) { return static_cast<double>(v.execution_count); }},
        {"nv_inference_request_duration_us",
         "Cumulative duration of successful inference requests in microseconds",
         [](const VersionStatistics& v) { return absl::ToDoubleMicroseconds(v.success.total); }},
        {"nv_inference_queue_duration_us", "Cumulative time requests spent queued in microseconds",
         [](const VersionStatistics& v) { return absl::ToDoubleMicroseconds(v.queue.total); }},
        {"nv_inference_compute_input_duration_us",
         "Cumulative time preparing inputs in microseconds",
         [](const VersionStatistics& v) {
           return absl::ToDoubleMicroseconds(v.compute_input.total);
         }},
        {"nv_inference_compute_infer_duration_us",
         "Cumulative time running the model in microseconds",
         [](const VersionStatistics& v) {
           return absl::ToDoubleMicroseconds(v.compute_infer.total);
         }},
        {"nv_inference_compute_output_duration_us",
         "Cumulative time building outputs in microseconds",
         [](const VersionStatistics& v) {
           return absl::ToDoubleMicroseconds(v.compute_output.total);
         }},
    };
    std::vector<prometheus::MetricFamily> families;
    for (const auto& counter : kCounters) {
      prometheus::MetricFamily family;
      family.name = counter.name;
      family.help = counter.help;
      family.type = prometheus::MetricType::Counter;
      for (const VersionStatistics& version : versions) {
        prometheus::ClientMetric metric;
        metric.label = {{"model", version.model}, {"version", version.version}};
        metric.counter.value = counter.value(version);
        family.metric.push_back(std::move(metric));
      }
      families.push_back(std::move(family));
    }
    return families;
  }

 private:
  const InferStatistics* const statistics_;
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Histogram>& infer_latency =
      prometheus::BuildHistogram()
          .Name("quantd_infer_latency_seconds")
          .Help("Time to serve a successful Infer call, from request to response.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& infer_queue_time =
      prometheus::BuildHistogram()
          .Name("quantd_infer_queue_seconds")
          .Help("Time a successful Infer call waited for its (merged) run to start.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& infer_compute_time =
      prometheus::BuildHistogram()
          .Name("quantd_infer_compute_seconds")
          .Help("Time a successful Infer call spent running the model.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& infer_batch_size =
      prometheus::BuildHistogram()
          .Name("quantd_infer_batch_size")
          .Help("Samples per successful Infer call.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& infer_merged_batch_rows =
      prometheus::BuildHistogram()
          .Name("quantd_infer_merged_batch_rows")
          .Help("Rows of the run a successful Infer call was merged into (dynamic batching).")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& infer_request_bytes =
      prometheus::BuildCounter()
          .Name("quantd_infer_request_bytes_total")
          .Help("Serialized size of successful Infer requests.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& infer_response_bytes =
      prometheus::BuildCounter()
          .Name("quantd_infer_response_bytes_total")
          .Help("Serialized size of successful Infer responses.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& infer_requests =
      prometheus::BuildCounter()
          .Name("quantd_infer_requests_total")
          .Help("Infer calls by model, version, precision and gRPC status code.")
          .Register(*registry);
  prometheus::Gauge& infer_running =
      prometheus::BuildGauge()
          .Name("quantd_infer_running")
          .Help("Infer runs (one or more merged calls) in progress right now.")
          .Register(*registry)
          .Add({});
  prometheus::Gauge& infer_waiting =
      prometheus::BuildGauge()
          .Name("quantd_infer_waiting")
          .Help("Infer calls waiting for their run (on an executor, maybe merged).")
          .Register(*registry)
          .Add({});
  prometheus::Gauge& job_workers = prometheus::BuildGauge()
                                       .Name("quantd_job_workers")
                                       .Help("Quantization workers configured (--workers).")
                                       .Register(*registry)
                                       .Add({});
  prometheus::Gauge& job_workers_busy = prometheus::BuildGauge()
                                            .Name("quantd_job_workers_busy")
                                            .Help("Quantization workers running a job.")
                                            .Register(*registry)
                                            .Add({});
  prometheus::Family<prometheus::Counter>& jobs =
      prometheus::BuildCounter()
          .Name("quantd_jobs_total")
          .Help("Quantization jobs that finished, by outcome (succeeded|failed|cancelled).")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& job_duration =
      prometheus::BuildHistogram()
          .Name("quantd_job_duration_seconds")
          .Help("Run time of finished quantization jobs, from start to finish.")
          .Register(*registry);
  prometheus::Gauge& queue_depth = prometheus::BuildGauge()
                                       .Name("quantd_job_queue_depth")
                                       .Help("Quantization jobs waiting for a worker.")
                                       .Register(*registry)
                                       .Add({});
  prometheus::Family<prometheus::Gauge>& int8_top1 =
      prometheus::BuildGauge()
          .Name("quantd_model_int8_top1")
          .Help("Top-1 accuracy of an int8 model version on its job's evaluation set.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& fp32_top1 =
      prometheus::BuildGauge()
          .Name("quantd_model_fp32_top1")
          .Help(
              "Top-1 accuracy of the fp32 original on the same evaluation set as the "
              "int8 version named by the version label.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& int8_speedup =
      prometheus::BuildGauge()
          .Name("quantd_model_int8_speedup")
          .Help(
              "Measured throughput of an int8 model version divided by that of its fp32 "
              "original, timed on this server when the version was published.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& int8_mac_share =
      prometheus::BuildGauge()
          .Name("quantd_model_int8_mac_share")
          .Help(
              "Fraction of an int8 model version's multiply-accumulates that run in int8 "
              "kernels, measured on one sample when the version was published.")
          .Register(*registry);
  InferStatistics infer_statistics;
  // Serializes recording a call with removing its version's series.
  absl::Mutex version_series_mu;
  std::shared_ptr<TritonCounters> triton_counters =
      std::make_shared<TritonCounters>(&infer_statistics);
  std::shared_ptr<HeapUsage> heap_usage = std::make_shared<HeapUsage>();
  std::unique_ptr<prometheus::Exposer> exposer;
  std::string bound_address;
};

Metrics::Metrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Metrics::~Metrics() = default;

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(const std::string& listen_address) {
  auto impl = std::make_unique<Impl>();
  // Pre-create the outcome series so dashboards see zeros rather than nothing.
  impl->jobs.Add({{"outcome", "succeeded"}});
  impl->jobs.Add({{"outcome", "failed"}});
  impl->jobs.Add({{"outcome", "cancelled"}});
  if (!listen_address.empty() && listen_address != "none") {
    try {
      impl->exposer = std::make_unique<prometheus::Exposer>(listen_address, 1);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on --metrics_listen='",
                                                 listen_address, "': ", e.what()));
    }
    impl->exposer->RegisterCollectable(impl->registry);
    impl->exposer->RegisterCollectable(impl->triton_counters);
    impl->exposer->RegisterCollectable(impl->heap_usage);
    const std::vector<int> ports = impl->exposer->GetListeningPorts();
    if (ports.empty()) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on --metrics_listen='", listen_address, "'"));
    }
    impl->bound_address = BoundAddress(listen_address, ports.front());
  }
  return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
}

const std::string& Metrics::bound_address() const { return impl_->bound_address; }

void Metrics::RecordInfer(const InferCall& call, const std::function<bool()>& version_exists) {
  absl::MutexLock lock(&impl_->version_series_mu);
  if (version_exists && !version_exists()) return;
  impl_->infer_statistics.Record(call);
  impl_->infer_requests
      .Add({{"model", call.model},
            {"version", call.version},
            {"precision", call.precision},
            {"code", absl::StatusCodeToString(call.code)}})
      .Increment();
  if (call.code != absl::StatusCode::kOk) return;
  const prometheus::Labels labels = {
      {"model", call.model}, {"version", call.version}, {"precision", call.precision}};
  impl_->infer_latency.Add(labels, InferLatencyBuckets())
      .Observe(absl::ToDoubleSeconds(call.latency));
  impl_->infer_queue_time.Add(labels, InferLatencyBuckets())
      .Observe(absl::ToDoubleSeconds(call.queue_time));
  impl_->infer_compute_time.Add(labels, InferLatencyBuckets())
      .Observe(absl::ToDoubleSeconds(call.compute_time));
  impl_->infer_batch_size.Add(labels, BatchSizeBuckets())
      .Observe(static_cast<double>(call.batch_size));
  impl_->infer_merged_batch_rows.Add(labels, BatchSizeBuckets())
      .Observe(static_cast<double>(call.merged_batch_rows));
  impl_->infer_request_bytes.Add(labels).Increment(static_cast<double>(call.request_bytes));
  impl_->infer_response_bytes.Add(labels).Increment(static_cast<double>(call.response_bytes));
}

void Metrics::SetInferConcurrency(int64_t running, int64_t waiting) {
  impl_->infer_running.Set(static_cast<double>(running));
  impl_->infer_waiting.Set(static_cast<double>(waiting));
}

void Metrics::SetJobWorkers(int64_t total, int64_t busy) {
  impl_->job_workers.Set(static_cast<double>(total));
  impl_->job_workers_busy.Set(static_cast<double>(busy));
}

void Metrics::RecordJobFinished(JobOutcome outcome, absl::Duration run_time) {
  const char* label = outcome == JobOutcome::kSucceeded ? "succeeded"
                      : outcome == JobOutcome::kFailed  ? "failed"
                                                        : "cancelled";
  impl_->jobs.Add({{"outcome", label}}).Increment();
  impl_->job_duration.Add({}, JobDurationBuckets()).Observe(absl::ToDoubleSeconds(run_time));
}

void Metrics::SetJobQueueDepth(int64_t depth) {
  impl_->queue_depth.Set(static_cast<double>(depth));
}

void Metrics::SetModelTop1(const std::string& model_id, int32_t version, double fp32_top1,
                           double int8_top1, const std::function<bool()>& version_exists) {
  // Family::Add returns a reference that Remove frees: the lock spans both
  // the Add and the Set.
  absl::MutexLock lock(&impl_->version_series_mu);
  if (version_exists && !version_exists()) return;
  const prometheus::Labels labels = {{"model", std::string(model_id)},
                                     {"version", absl::StrCat(version)}};
  impl_->fp32_top1.Add(labels).Set(fp32_top1);
  impl_->int8_top1.Add(labels).Set(int8_top1);
}

void Metrics::SetModelSpeedup(const std::string& model_id, int32_t version,
                              double throughput_speedup,
                              const std::function<bool()>& version_exists) {
  absl::MutexLock lock(&impl_->version_series_mu);
  if (version_exists && !version_exists()) return;
  impl_->int8_speedup.Add({{"model", model_id}, {"version", absl::StrCat(version)}})
      .Set(throughput_speedup);
}

void Metrics::SetModelInt8MacShare(const std::string& model_id, int32_t version, double mac_share,
                                   const std::function<bool()>& version_exists) {
  absl::MutexLock lock(&impl_->version_series_mu);
  if (version_exists && !version_exists()) return;
  impl_->int8_mac_share.Add({{"model", model_id}, {"version", absl::StrCat(version)}})
      .Set(mac_share);
}

void Metrics::RemoveModelVersion(const std::string& model_id, int32_t version) {
  absl::MutexLock lock(&impl_->version_series_mu);
  const prometheus::Labels labels = {{"model", model_id}, {"version", absl::StrCat(version)}};
  // Has() first: Add() would create the series only to remove it again.
  for (prometheus::Family<prometheus::Gauge>* family :
       {&impl_->int8_top1, &impl_->fp32_top1, &impl_->int8_speedup, &impl_->int8_mac_share}) {
    if (family->Has(labels)) family->Remove(&family->Add(labels));
  }
  // The Infer series also carry the precision (and the request count the
  // status code); a version has one precision, but try each.
  for (const char* precision : {"fp32", "int8", "unspecified"}) {
    prometheus::Labels infer_labels = labels;
    infer_labels["precision"] = precision;
    for (prometheus::Family<prometheus::Histogram>* family :
         {&impl_->infer_latency, &impl_->infer_queue_time, &impl_->infer_compute_time,
          &impl_->infer_batch_size, &impl_->infer_merged_batch_rows}) {
      if (family->Has(infer_labels)) family->Remove(&family->Add(infer_labels, BatchSizeBuckets()));
    }
    for (prometheus::Family<prometheus::Counter>* family :
         {&impl_->infer_request_bytes, &impl_->infer_response_bytes}) {
      if (family->Has(infer_labels)) family->Remove(&family->Add(infer_labels));
    }
    for (int code = 0; code <= static_cast<int>(absl::StatusCode::kUnauthenticated); ++code) {
      infer_labels["code"] = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
      if (impl_->infer_requests.Has(infer_labels)) {
        impl_->infer_requests.Remove(&impl_->infer_requests.Add(infer_labels));
      }
    }
  }
  impl_->infer_statistics.Remove(model_id, absl::StrCat(version));
}

std::vector<VersionStatistics> Metrics::InferStatisticsOf(const std::string& model_id,
                                                          const std::string& version) const {
  return impl_->infer_statistics.Snapshot(model_id, version);
}

std::string Metrics::RenderText() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  for (const auto* collectable : std::initializer_list<const prometheus::Collectable*>{
           impl_->triton_counters.get(), impl_->heap_usage.get()}) {
    for (prometheus::MetricFamily& family : collectable->Collect()) {
      families.push_back(std::move(family));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace quantd::server
